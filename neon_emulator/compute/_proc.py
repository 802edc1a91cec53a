"""Running PostgreSQL tools as an unprivileged user.

PostgreSQL refuses to run as root, and this machine and CI run as root, so every server
binary runs as the Debian ``postgres`` user (subprocess ``user=``/``group=``) and the data
it touches is chowned to that user. When we are not root, everything runs as ourselves.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from .backend import ComputeError

PG_BIN = Path(os.environ.get("NEON_EMULATOR_PG_BIN", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = Path(os.environ.get("NEON_EMULATOR_PGBOUNCER", "/usr/sbin/pgbouncer"))
IS_ROOT = os.geteuid() == 0
RUN_AS = "postgres"
_ROOTS: set[Path] = set()


def _ids() -> tuple[int, int]:
    if not IS_ROOT:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(RUN_AS)
    except KeyError as exc:
        raise ComputeError(f"running as root needs the '{RUN_AS}' user (postgresql-15)") from exc
    return entry.pw_uid, entry.pw_gid


def _user_kwargs() -> dict[str, Any]:
    if not IS_ROOT:
        return {}
    uid, gid = _ids()
    return {"user": uid, "group": gid, "extra_groups": []}


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/tmp",
        "TZ": "UTC",
    }
    if extra:
        env.update(extra)
    return env


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    input_text: str | None = None,
    what: str = "",
) -> str:
    """Run a tool as the unprivileged user; raise ComputeError with its stderr tail on failure."""
    _reassert_roots()
    try:
        done = subprocess.run(
            list(cmd),
            env=_env(env),
            cwd="/",
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            check=False,
            **_user_kwargs(),
        )
    except subprocess.TimeoutExpired as exc:
        raise ComputeError(f"{what or Path(cmd[0]).name} timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise ComputeError(f"{what or Path(cmd[0]).name} failed: {tail}")
    return str(done.stdout)


def spawn(
    cmd: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a long-running server in its own session, output appended to ``log``."""
    _reassert_roots()
    with open(log, "ab") as out:
        logf: IO[bytes] = out
        return subprocess.Popen(
            list(cmd),
            env=_env(env),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_user_kwargs(),
        )


def own(path: Path, *, mode: int | None = None, recursive: bool = False) -> None:
    """Give a path (optionally its whole tree) to the unprivileged user."""
    if mode is not None:
        path.chmod(mode)
    if not IS_ROOT:
        return
    uid, gid = _ids()
    os.chown(path, uid, gid)
    if recursive and path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), uid, gid)


def ensure_traversable(path: Path) -> None:
    """Let the unprivileged user reach ``path``: add o+x (search, not read) to ancestors.

    pytest's tmp dirs (/tmp/pytest-of-root, mode 0700) would otherwise hide the data dir
    from the ``postgres`` user. Only the execute bit is added; listings stay private. A new
    pytest session resets /tmp/pytest-of-root to 0700, so this is re-checked before every
    process we start (a few stat calls).
    """
    if not IS_ROOT:
        return
    _ROOTS.add(path)
    _fix_modes(path)


def forget_traversable(path: Path) -> None:
    _ROOTS.discard(path)


def _reassert_roots() -> None:
    for root in list(_ROOTS):
        _fix_modes(root)


def _fix_modes(path: Path) -> None:
    for parent in [path, *path.parents]:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue
        if not st.st_mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a (stopped) data directory, keeping modes; reflinks where the fs supports them."""
    try:
        subprocess.run(
            ["cp", "-a", "--reflink=auto", str(src), str(dst)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(dst, ignore_errors=True)
        raise ComputeError(f"copying {src.name} failed") from exc


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
