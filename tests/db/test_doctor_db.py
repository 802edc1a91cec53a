"""`neon-tenants doctor`'s database section against a real PostgreSQL 15."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _doctor(url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    env.update({"NEON_TENANTS_DATABASE_URL": url, **extra})
    exe = str(Path(sys.executable).parent / "neon-tenants")
    return subprocess.run([exe, "doctor"], env=env, capture_output=True, text=True, timeout=120)


def _line(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line[8:].startswith(name))


def test_doctor_names_missing_schema_and_refused_passphrase_without_the_password(
    fresh_db, pg_server
) -> None:
    url = fresh_db()
    done = _doctor(url, PULUMI_CONFIG_PASSPHRASE="neon-tenants-local")
    assert done.returncode == 1
    assert _line(done.stdout, "database ").startswith("ok")
    assert "version 0 of" in _line(done.stdout, "database schema") and "db migrate" in done.stdout
    assert _line(done.stdout, "stack secrets").startswith("MISSING")
    assert pg_server.password not in done.stdout + done.stderr


def test_doctor_with_a_migrated_database_and_own_passphrase_passes_its_section(
    migrated_url: str, pg_server
) -> None:
    done = _doctor(migrated_url, PULUMI_CONFIG_PASSPHRASE="a-team-secret")
    schema = _line(done.stdout, "database schema")
    assert schema.startswith("ok") and _line(done.stdout, "stack secrets").startswith("ok")
    assert any(
        line.startswith("Pulumi state") and "postgres://" in line
        for line in done.stdout.splitlines()
    )
    assert pg_server.password not in done.stdout + done.stderr


def test_doctor_reports_an_unreachable_database_scrubbed(pg_server) -> None:
    url = pg_server.url.replace(f":{pg_server.port}/", ":1/")
    done = _doctor(url, PULUMI_CONFIG_PASSPHRASE="a-team-secret")
    assert _line(done.stdout, "database ").startswith("MISSING")
    assert pg_server.password not in done.stdout + done.stderr


def test_a_password_in_the_query_string_works_and_never_shows(migrated_url: str, pg_server) -> None:
    """libpq takes `?password=`: doctor (psycopg and the engine's PostgreSQL backend) connects
    with it, and neither the redacted URL nor the Pulumi backend URL shows it."""
    user_at = f":{pg_server.password}@"
    assert user_at in migrated_url
    url = migrated_url.replace(user_at, "@") + f"&password={pg_server.password}"
    done = _doctor(url, PULUMI_CONFIG_PASSPHRASE="a-team-secret")
    assert _line(done.stdout, "database ").startswith("ok")
    assert _line(done.stdout, "database schema").startswith("ok")
    assert _line(done.stdout, "stack secrets").startswith("ok")
    assert pg_server.password not in done.stdout + done.stderr
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {**os.environ, "NEON_TENANTS_DATABASE_URL": url}
    migrated = subprocess.run(
        [exe, "db", "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    assert pg_server.password not in migrated.stdout + migrated.stderr
