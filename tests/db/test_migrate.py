"""`db migrate` against a real PostgreSQL 15: versioned, idempotent, safe when concurrent."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psycopg

from neon_tenants.db.schema import LATEST, MIGRATIONS, current_version, migrate


def test_migrate_applies_every_version_once_then_nothing(fresh_db) -> None:
    url = fresh_db()
    first = migrate(url)
    assert [m.version for m in first] == [m.version for m in MIGRATIONS]
    assert migrate(url) == []
    with psycopg.connect(url) as conn:
        assert current_version(conn) == LATEST
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"nt_fleets", "nt_tenants", "nt_runs", "procrastinate_jobs",
            "procrastinate_workers"} <= tables


def test_concurrent_migrations_apply_each_step_exactly_once(fresh_db) -> None:
    url = fresh_db()
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append([m.version for m in migrate(url)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(v for r in results for v in r) == [m.version for m in MIGRATIONS]


def test_cli_db_migrate_reports_redacted_database_and_is_idempotent(fresh_db, pg_server) -> None:
    url = fresh_db()
    password = pg_server.password
    env = {"NEON_TENANTS_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    cmd = [str(Path(sys.executable).parent / "neon-tenants"), "db", "migrate", "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert '"1: fleet store' in first.stdout and '"applied": []' in again.stdout
    for done in (first, again):
        assert password not in done.stdout + done.stderr
        assert "***@127.0.0.1" in done.stdout
