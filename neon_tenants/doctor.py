"""`neon-tenants doctor`: is this machine ready, and where does everything live?

Every check runs the real tool (`pulumi version`, `postgres --version`, ...) rather than
testing for a file, because a binary copied out of the Go module cache without its execute
bit, or a CLI built without its `-X version` flag, looks present but does not work.
The pulumi-command plugin is required (archives, checkpoints and migrations run through
`command.local.Command`, issue 12); the bootstrap builds it from ../shared/vendor where its Go
modules are not served.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from neon_tenants._env import pulumi_bin_dir
from neon_tenants._settings import PULUMI_COMMAND_VERSION, PULUMI_VERSION, Paths, paths
from neon_tenants.client._credentials import KEY_ENV_VARS
from neon_tenants.pgclient import BIN_DIRS_ENV, installed_clients, local_server_majors


class Check(BaseModel):
    """One line of the report; a failed required check makes the exit code non-zero."""

    model_config = ConfigDict(frozen=True)

    name: str
    ok: bool
    detail: str
    required: bool = True


def run_doctor() -> int:
    """Print the report; 0 when everything required is there, else 1."""
    p = paths()
    checks = collect_checks(p)
    for c in checks:
        mark = "ok " if c.ok else ("MISSING" if c.required else "WARN")
        _out(f"{mark:8}{c.name:24}{c.detail}")
    _out("")
    for label, value in locations(p):
        _out(f"{label:32}{value}")
    _out("")
    _out(f"{'Neon':32}{neon_target()}")
    failed = [c.name for c in checks if c.required and not c.ok]
    if failed:
        _out(f"\nmissing: {', '.join(failed)} -> run `make setup` (scripts/bootstrap.sh)")
        return 1
    return 0


def collect_checks(p: Paths) -> list[Check]:
    bin_dir = pulumi_bin_dir(p)
    pg = p.postgres_bin
    checks = [
        Check(
            name="python",
            ok=sys.version_info >= (3, 11),
            detail=f"{sys.version.split()[0]} ({sys.executable})",
        ),
        _version_check("pulumi", [str(bin_dir / "pulumi"), "version"], want=f"v{PULUMI_VERSION}"),
        _version_check(
            "pulumi-language-python",
            [str(bin_dir / "pulumi-language-python"), "--version"],
            want=f"v{PULUMI_VERSION}",
        ),
        _file_check("python exec shim", bin_dir / "pulumi-language-python-exec"),
        _file_check("dynamic provider shim", bin_dir / "pulumi-resource-pulumi-python"),
        _file_check("  (Pulumi's own)", bin_dir / "pulumi-resource-pulumi-python-sdk"),
        _command_plugin_check(p),
        _version_check("postgresql 15", [str(pg / "postgres"), "--version"]),
        _version_check("pgbouncer", [shutil.which("pgbouncer") or "pgbouncer", "--version"]),
        *_pg_client_checks(p),
    ]
    if os.geteuid() == 0:
        checks.append(_postgres_user_check())
    return checks + _database_checks()


def _database_checks() -> list[Check]:
    """PostgreSQL mode (issue 11): database, schema version, workers, stack secrets."""
    from neon_tenants.cli.stacks_cmds import stacks_dir
    from neon_tenants.db.health import database_checks

    return [
        Check(name=c.name, ok=c.ok, detail=c.detail, required=c.required)
        for c in database_checks(stacks_dir=stacks_dir())
    ]


def locations(p: Paths) -> list[tuple[str, str]]:
    return [
        ("engine (pulumi + helpers)", str(pulumi_bin_dir(p))),
        ("PULUMI_HOME (plugins)", str(p.pulumi_home)),
        ("Pulumi state (backend)", _safe_url(_effective_backend(p))),
        ("emulator data (make run)", str(p.emulator_data_dir)),
        ("virtualenv", str(p.venv)),
    ]


def neon_target() -> str:
    """Which Neon the tools will talk to; names variables, never prints their values."""
    base = os.environ.get("NEON_API_BASE_URL")
    where = _safe_url(base) if base else "https://console.neon.tech/api/v2 (default)"
    keys = [v for v in KEY_ENV_VARS if os.environ.get(v)]
    creds_file = os.environ.get("NEON_CREDENTIALS_FILE")
    if keys or creds_file:
        parts = ([f"credentials file {creds_file}"] if creds_file else []) + (
            [f"env {', '.join(keys)}"] if keys else []
        )
        return f"real Neon at {where}, credentials from {'; '.join(parts)}"
    if base:
        return f"{where} without credentials set (emulator expected there)"
    return "no NEON_* credentials set: the local emulator will be used"


def _version_check(name: str, argv: Sequence[str], want: str | None = None) -> Check:
    try:
        res = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Check(name=name, ok=False, detail=f"not runnable: {argv[0]} ({type(exc).__name__})")
    text = (res.stdout or res.stderr).strip().splitlines()
    first = text[0] if text else ""
    if res.returncode != 0:
        return Check(name=name, ok=False, detail=f"{argv[0]} exited {res.returncode}: {first}")
    if want is not None and first != want:
        return Check(name=name, ok=False, detail=f"{first!r} at {argv[0]}, expected {want}")
    return Check(name=name, ok=True, detail=f"{first} ({argv[0]})")


def _file_check(name: str, path: Path) -> Check:
    ok = path.is_file() and os.access(path, os.X_OK)
    return Check(name=name, ok=ok, detail=str(path) + ("" if ok else " (absent or not executable)"))


def _command_plugin_check(p: Paths) -> Check:
    """The engine loads `resource-command-v<VER>` from PULUMI_HOME by that directory name, so
    the version is the directory's (the binary has no version flag)."""
    name = f"pulumi-command {PULUMI_COMMAND_VERSION}"
    binary = command_plugin_path(p)
    if binary.is_file() and os.access(binary, os.X_OK):
        return Check(name=name, ok=True, detail=str(binary))
    return Check(
        name=name,
        ok=False,
        detail=f"{binary} absent: run `make setup` (installs it, or builds it from "
        "../shared/vendor)",
    )


def command_plugin_path(p: Paths) -> Path:
    plugin = p.pulumi_home / "plugins" / f"resource-command-v{PULUMI_COMMAND_VERSION}"
    return plugin / "pulumi-resource-command"


def _pg_client_checks(p: Paths) -> list[Check]:
    """pg_dump/pg_restore (archives, restore-archive) and whether they can read the servers
    in use: the emulator's local majors when NEON_API_BASE_URL is unset or loopback, else the
    tiers' `pg_version` (real Neon). A newer server only warns: nothing else needs pg_dump."""
    clients = installed_clients()
    if not clients:
        return [
            Check(
                name="pg_dump/pg_restore",
                ok=False,
                detail="not found: run `make setup` (installs postgresql-client)",
            )
        ]
    newest = clients[-1]
    versions = ", ".join(c.version for c in clients)
    checks = [
        Check(name="pg_dump/pg_restore", ok=True, detail=f"{versions} (newest: {newest.bin_dir})")
    ]
    for major, where in _server_majors(p):
        if major > newest.major:
            checks.append(
                Check(
                    name="pg_dump vs server",
                    ok=False,
                    required=False,
                    detail=f"{where} runs PostgreSQL {major}, newer than the local pg_dump "
                    f"{newest.version}: archives of it would fail; install "
                    f"postgresql-client-{major} (or set {BIN_DIRS_ENV})",
                )
            )
    return checks


def _server_majors(p: Paths) -> list[tuple[int, str]]:
    base = os.environ.get("NEON_API_BASE_URL")
    host = urlsplit(base).hostname if base else None
    if base is None or host in ("localhost", "::1") or (host or "").startswith("127."):
        return [(m, "the emulator") for m in local_server_majors()]
    from neon_tenants.catalog import stack_catalog

    catalog = stack_catalog(p.repo_root / "stacks")
    return sorted({(t.pg_version, f"tier {t.name} (Neon)") for t in catalog.tiers.values()})


def _postgres_user_check() -> Check:
    """As root the emulator runs its clusters as Debian's `postgres` user (initdb refuses root)."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return Check(
            name="postgres system user",
            ok=False,
            detail="absent: running as root needs it (apt-get install postgresql-15 creates it)",
        )
    return Check(name="postgres system user", ok=True, detail="present (clusters run as postgres)")


def _effective_backend(p: Paths) -> str:
    """The backend the engine will use: PostgreSQL mode puts state in the database."""
    from neon_tenants.db import DatabaseUrlError, database_url

    if os.environ.get("PULUMI_BACKEND_URL"):
        return p.backend_url
    try:
        url = database_url()
    except DatabaseUrlError:
        return p.backend_url
    return url.pulumi_backend()[0] if url is not None else p.backend_url


def _safe_url(url: str) -> str:
    """The URL without any user:password part (a postgres:// backend URL may carry one)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
