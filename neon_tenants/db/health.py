"""`doctor`'s database section: reachable, schema version, workers seen, secrets (#11).

Every line names the database by its redacted URL; an error's text is scrubbed of the
password before it is shown (libpq quotes the connection string in some messages).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from neon_tenants.db._url import DATABASE_URL_ENV, DatabaseUrl, DatabaseUrlError, database_url

WORKER_SEEN_SECONDS = 60


@dataclass(frozen=True)
class DbCheck:
    name: str
    ok: bool
    detail: str
    required: bool = True


def database_checks(
    environ: Mapping[str, str] | None = None, stacks_dir: Path | None = None
) -> list[DbCheck]:
    """Nothing required when no database is configured (the embedded default)."""
    env = os.environ if environ is None else environ
    store = [_fleet_store(stacks_dir, env)] if stacks_dir is not None else []
    try:
        url = database_url(env)
    except DatabaseUrlError as exc:
        return [DbCheck("database", False, str(exc)), *store]
    if url is None:
        return [DbCheck("database", True, f"{DATABASE_URL_ENV} not set: fleet files, "
                        "in-process runs (the embedded default)", required=False), *store]
    return [*_probe(url), _secrets(env), *store]


def _fleet_store(stacks_dir: Path, env: Mapping[str, str]) -> DbCheck:
    """Which store the stacks dir's tiers use (fleet/store_choice.py, the one rule)."""
    from neon_tenants.fleet.store_choice import StoreConfigError, fleet_store

    try:
        choice = fleet_store(stacks_dir, env)
    except StoreConfigError as exc:
        return DbCheck("fleet store", False, str(exc))
    return DbCheck("fleet store", True, f"{choice.kind} ({choice.why})", required=False)


def _probe(url: DatabaseUrl) -> list[DbCheck]:
    import psycopg

    from neon_tenants.db.schema import LATEST, current_version

    try:
        with psycopg.connect(url.conninfo(), connect_timeout=5, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            schema = current_version(conn)
            workers: list[tuple[int, float]] = []
            if schema >= LATEST:
                workers = [
                    (int(r[0]), float(r[1]))
                    for r in conn.execute(
                        "SELECT id, extract(epoch FROM now() - last_heartbeat)"
                        " FROM procrastinate_workers ORDER BY id"
                    )
                ]
    except psycopg.Error as exc:
        detail = url.scrub(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return [DbCheck("database", False, f"{url.redacted}: {type(exc).__name__} {detail}")]
    checks = [
        DbCheck("database", True, f"PostgreSQL {version[0] if version else '?'} at {url.redacted}"),
        DbCheck(
            "database schema",
            schema >= LATEST,
            f"version {schema} of {LATEST}"
            + ("" if schema >= LATEST else ": run `neon-tenants db migrate`"),
        ),
    ]
    live = [w for w in workers if w[1] <= WORKER_SEEN_SECONDS]
    checks.append(
        DbCheck(
            "workers",
            bool(live),
            f"{len(live)} alive (heartbeat < {WORKER_SEEN_SECONDS}s): "
            + (", ".join(f"#{i} {age:.0f}s ago" for i, age in live) or "none: start "
               "`neon-tenants worker` or requests stay pending"),
            required=False,
        )
    )
    return checks


def _secrets(env: Mapping[str, str]) -> DbCheck:
    from neon_tenants._env import SharedBackendSecrets, pulumi_env

    try:
        engine = pulumi_env(None, env)
    except SharedBackendSecrets as exc:
        return DbCheck("stack secrets", False, str(exc))
    backend = engine.get("PULUMI_BACKEND_URL", "")
    where = "database" if backend.startswith("postgres://") else "PULUMI_BACKEND_URL"
    return DbCheck("stack secrets", True, f"own passphrase or KMS provider (state in {where})")
