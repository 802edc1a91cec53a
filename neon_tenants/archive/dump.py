"""Take one tenant's archive: what `command.local.Command`'s `delete` runs (issue 12).

The Command (see `resource.py`) records only names and the archive settings in plain text;
the connection string reaches this process as the secret environment variable
`NEON_TENANTS_ARCHIVE_URI` and is handed to pg_dump as libpq variables (PGPASSWORD, never in
argv, where `ps` would show it). Errors are scrubbed of the URI and password before they are
raised, because the engine records the command's stderr in its error and the CLI prints it.

The default archive is `pg_dump --format=custom` of the tenant's database, by the newest local
client (pgclient.client_for: it refuses a newer server with the package to install). A
configured command (`NEON_TENANTS_ARCHIVE_COMMAND`, run with `sh -c`) replaces the dump: it
must write the archive to `$NEON_TENANTS_ARCHIVE_FILE` (and may copy it anywhere else, e.g.
object storage). Either way the manifest (tenant, tier, project id, time, size, sha256) is
written after the archive file is complete, and only a zero exit lets the engine go on to
delete the project.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from neon_tenants._command_env import without_platform_secrets
from neon_tenants.archive.manifest import (
    MANIFEST_SUFFIX,
    ArchiveManifest,
    file_digest,
    write_manifest,
)
from neon_tenants.pgclient import PgClientTooOld, client_for

URI_ENV = "NEON_TENANTS_ARCHIVE_URI"
DIR_ENV = "NEON_TENANTS_ARCHIVE_DIR"
COMMAND_ENV = "NEON_TENANTS_ARCHIVE_COMMAND"
FILE_ENV = "NEON_TENANTS_ARCHIVE_FILE"
TENANT_ENV = "NEON_TENANTS_TENANT"
TIER_ENV = "NEON_TENANTS_TIER"
PROJECT_ENV = "NEON_TENANTS_PROJECT_ID"


class ArchiveError(RuntimeError):
    """The archive could not be taken; the message says why and never holds a secret."""


def libpq_env(uri: str) -> dict[str, str]:
    """postgresql://user:pw@host:port/db?sslmode=x -> PGHOST, PGPORT, ... (PGPASSWORD)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
        raise ArchiveError(f"{URI_ENV} is not a postgresql:// connection string")
    env = {
        "PGHOST": parts.hostname,
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": unquote(parts.path.lstrip("/")),
    }
    for pair in parts.query.split("&"):
        key, _, value = pair.partition("=")
        if key in _QUERY_ENV and value:
            env[_QUERY_ENV[key]] = unquote(value)
    return env


_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "channel_binding": "PGCHANNELBINDING",
    "sslrootcert": "PGSSLROOTCERT",
    "options": "PGOPTIONS",
}


def scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def server_version(uri: str, attempts: int = 60) -> tuple[int, str]:
    """(major, "15.20") of the server; connecting also wakes a suspended compute."""
    import psycopg

    last = ""
    for _ in range(attempts):
        try:
            with psycopg.connect(uri, connect_timeout=10) as conn:
                num = int(str(conn.execute("show server_version_num").fetchone()[0]))  # type: ignore[index]
                full = str(conn.execute("show server_version").fetchone()[0])  # type: ignore[index]
                return num // 10000, full.split()[0]
        except psycopg.OperationalError as exc:
            last = type(exc).__name__
            time.sleep(0.5)
    host = urlsplit(uri).hostname
    raise ArchiveError(f"cannot connect to the tenant's database at {host} ({last})")


def database_is_empty(uri: str) -> bool:
    """No table, view or sequence outside the system schemas (a fresh project's database)."""
    import psycopg

    server_version(uri)  # wakes the compute
    with psycopg.connect(uri, connect_timeout=10) as conn:
        row = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname not in ('pg_catalog', 'information_schema') "
            "and n.nspname not like 'pg_toast%' and c.relkind in ('r', 'v', 'm', 'S', 'p')"
        ).fetchone()
    return row is not None and int(row[0]) == 0


def take_archive(environ: Mapping[str, str] | None = None) -> tuple[Path, ArchiveManifest]:
    """Dump (or run the configured command), then write the manifest; returns both."""
    env = dict(os.environ if environ is None else environ)
    missing = [k for k in (URI_ENV, DIR_ENV, TENANT_ENV, TIER_ENV, PROJECT_ENV) if not env.get(k)]
    if missing:
        raise ArchiveError(f"archive environment incomplete: {', '.join(missing)} not set")
    uri = env[URI_ENV]
    pg = libpq_env(uri)
    secrets = [uri, pg["PGPASSWORD"]]
    tenant, tier, project = env[TENANT_ENV], env[TIER_ENV], env[PROJECT_ENV]
    folder = Path(env[DIR_ENV]) / tenant
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    base = f"{tenant}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}"
    final = folder / f"{base}.dump"
    partial = folder / f".{base}.dump.partial"
    custom = env.get(COMMAND_ENV, "").strip()
    # the archive command or pg_dump gets its tenant's connection only, no platform secret
    child_env = {k: v for k, v in without_platform_secrets(env).items() if k != URI_ENV}
    child_env.update(pg)
    child_env[FILE_ENV] = str(partial)
    server: tuple[int, str] | None = None
    client_version: str | None = None
    if custom:
        argv = ["sh", "-c", custom]
        child_env[URI_ENV] = uri  # a configured command may want the URI itself
        what = "archive command"
    else:
        server = server_version(uri)
        try:
            client = client_for(server[0], env)
        except PgClientTooOld as exc:
            raise ArchiveError(f"tenant {tenant!r} not archived: {exc}") from None
        client_version = client.version
        argv = [str(client.pg_dump), "--format=custom", f"--file={partial}", "--no-password"]
        what = f"pg_dump {client.version}"
    try:
        res = subprocess.run(argv, env=child_env, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"tenant {tenant!r} not archived: {what} did not run ({exc})") from None
    if res.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        why = (res.stderr or res.stdout).strip().splitlines()[-3:]
        detail = scrub(" | ".join(why), secrets) or "no output"
        if res.returncode == 0:
            detail = f"it exited 0 but wrote no file at ${FILE_ENV}"
        raise ArchiveError(
            f"tenant {tenant!r} not archived ({what} exited {res.returncode}): {detail}"
        )
    with partial.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(partial, final)
    size, digest = file_digest(final)
    manifest = ArchiveManifest(
        tenant=tenant,
        tier=tier,
        project_id=project,
        archived_at=stamp,
        file=final.name,
        size_bytes=size,
        sha256=digest,
        format="custom" if custom else "pg_dump-custom",
        server_version=server[1] if server else None,
        pg_dump_version=client_version,
    )
    manifest_path = folder / f"{base}{MANIFEST_SUFFIX}"
    write_manifest(manifest_path, manifest)
    return manifest_path, manifest


def restore_dump(manifest_path: Path, target_uri: str) -> ArchiveManifest:
    """Check the archive against its manifest, then pg_restore it into `target_uri`'s
    database (owners and grants left to the target's role: the new project has its own)."""
    from neon_tenants.archive.manifest import read_manifest

    manifest = read_manifest(manifest_path)
    path = manifest.verify(manifest_path)
    if manifest.format != "pg_dump-custom":
        raise ArchiveError(
            f"{manifest_path}: format {manifest.format!r} was written by a configured "
            "command; restore it with that tool's counterpart"
        )
    pg = libpq_env(target_uri)
    secrets = [target_uri, pg["PGPASSWORD"]]
    server = server_version(target_uri)
    try:
        client = client_for(server[0])
    except PgClientTooOld as exc:
        raise ArchiveError(f"cannot restore into the target: {exc}") from None
    argv = [
        str(client.pg_restore),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        f"--dbname={pg['PGDATABASE']}",
        str(path),
    ]
    res = subprocess.run(
        argv, env={**os.environ, **pg}, capture_output=True, text=True, timeout=3600
    )
    if res.returncode != 0:
        why = scrub(" | ".join(res.stderr.strip().splitlines()[-3:]), secrets)
        raise ArchiveError(f"pg_restore {client.version} exited {res.returncode}: {why}")
    return manifest


__all__ = ["ArchiveError", "libpq_env", "restore_dump", "take_archive"]
