"""Which `pg_dump` / `pg_restore` to run against a server (issue 12: archives and restores).

pg_dump refuses a server whose major version is newer than its own ("aborting because of
server version mismatch"), and a newer pg_dump's output may use settings an older server
rejects on restore, so a server gets the installed client of its own major, else the oldest
newer one. Clients are found where Debian installs each major (`/usr/lib/postgresql/<N>/bin`),
in the bootstrap's cache of the other majors (`<cache>/postgres/<N>/bin`, issue 15), in the
directories of `NEON_TENANTS_PG_BIN_DIRS` (os.pathsep-separated) and on PATH; the version is
read by running the tool, never guessed from a path.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PG_LIB = Path("/usr/lib/postgresql")
BIN_DIRS_ENV = "NEON_TENANTS_PG_BIN_DIRS"
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class PgClientTooOld(RuntimeError):
    """The newest local client is older than the server: pg_dump would refuse it."""


class PgClient(BaseModel):
    """One installed client: its major version and the directory holding its tools."""

    model_config = ConfigDict(frozen=True)

    major: int
    version: str
    bin_dir: Path

    @property
    def pg_dump(self) -> Path:
        return self.bin_dir / "pg_dump"

    @property
    def pg_restore(self) -> Path:
        return self.bin_dir / "pg_restore"


def tool_version(binary: Path) -> tuple[int, str] | None:
    """(major, "15.20") from `<tool> --version`, or None when it does not run."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION_RE.search(out)
    if m is None:
        return None
    return int(m.group(1)), f"{m.group(1)}.{m.group(2) or 0}"


def _candidate_dirs(env: Mapping[str, str]) -> list[Path]:
    from neon_tenants._settings import paths

    dirs = [Path(d) for d in env.get(BIN_DIRS_ENV, "").split(os.pathsep) if d]
    for root in (PG_LIB, paths(environ=env).cache_root / "postgres"):
        if root.is_dir():
            dirs += sorted(p / "bin" for p in root.iterdir() if (p / "bin").is_dir())
    on_path = shutil.which("pg_dump", path=env.get("PATH"))
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    seen: list[Path] = []
    for d in dirs:
        if d.resolve() not in seen:
            seen.append(d.resolve())
    return seen


def installed_clients(environ: Mapping[str, str] | None = None) -> list[PgClient]:
    """Every directory with both pg_dump and pg_restore, oldest major first."""
    env = os.environ if environ is None else environ
    found: dict[int, PgClient] = {}
    for d in _candidate_dirs(env):
        if not all(os.access(d / t, os.X_OK) for t in ("pg_dump", "pg_restore")):
            continue
        v = tool_version(d / "pg_dump")
        if v is not None and v[0] not in found:
            found[v[0]] = PgClient(major=v[0], version=v[1], bin_dir=d)
    return [found[k] for k in sorted(found)]


def local_server_majors(environ: Mapping[str, str] | None = None) -> list[int]:
    """Majors of the PostgreSQL servers installed here (what the emulator can run)."""
    env = os.environ if environ is None else environ
    majors: set[int] = set()
    for d in _candidate_dirs(env):
        if os.access(d / "postgres", os.X_OK):
            v = tool_version(d / "postgres")
            if v is not None:
                majors.add(v[0])
    return sorted(majors)


def client_for(server_major: int | None, environ: Mapping[str, str] | None = None) -> PgClient:
    """The client of `server_major`, else the oldest newer one (None: the newest);
    PgClientTooOld when every installed client is older than the server."""
    clients = installed_clients(environ)
    if not clients:
        raise PgClientTooOld(
            "no pg_dump/pg_restore found: run `make setup` (installs postgresql-client)"
        )
    newest = clients[-1]
    if server_major is None:
        return newest
    fitting = [c for c in clients if c.major >= server_major]
    if fitting:
        return fitting[0]
    if server_major > newest.major:
        raise PgClientTooOld(
            f"server is PostgreSQL {server_major}, newest local pg_dump is {newest.version} "
            f"({newest.bin_dir}); install postgresql-client-{server_major} or put its bin "
            f"directory in {BIN_DIRS_ENV}"
        )
    return newest
