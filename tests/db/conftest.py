"""PostgreSQL-mode fixtures: one throwaway PostgreSQL 15 server per test session, a fresh
database per module (so modules never see each other's fleets, queues or stacks)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import psycopg
import pytest

from neon_tenants.db.local_server import PG_BIN, LocalPostgres

if not (PG_BIN / "postgres").exists():  # pragma: no cover - the bootstrap installs it
    pytest.skip("PostgreSQL 15 is not installed", allow_module_level=True)

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


def fresh_database(server: LocalPostgres) -> str:
    """CREATE DATABASE; returns its URL (password included: tests only)."""
    name = f"t{next(_names)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.replace(f"/{server.dbname}?", f"/{name}?")


@pytest.fixture(scope="session")
def fresh_db(pg_server: LocalPostgres) -> Callable[[], str]:
    """A factory of empty databases on the session's server."""
    return lambda: fresh_database(pg_server)


@pytest.fixture(scope="module")
def db_url(pg_server: LocalPostgres) -> str:
    return fresh_database(pg_server)


@pytest.fixture(scope="module")
def migrated_url(db_url: str) -> str:
    from neon_tenants.db.schema import migrate

    migrate(db_url)
    return db_url

