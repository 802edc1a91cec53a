"""Choosing pg_dump/pg_restore for a server major (neon_tenants.pgclient)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from neon_tenants.pgclient import BIN_DIRS_ENV, PgClientTooOld, client_for, installed_clients


def _fake_client(d: Path, version: str) -> Path:
    d.mkdir(parents=True)
    for tool in ("pg_dump", "pg_restore"):
        f = d / tool
        f.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {version}'\n")
        f.chmod(0o755)
    return d


def test_client_for_the_local_major_is_the_installed_client() -> None:
    client = client_for(15)
    assert client.major >= 15
    assert client.pg_dump.is_file() and client.pg_restore.is_file()


def test_client_for_a_newer_server_names_the_package_to_install() -> None:
    with pytest.raises(PgClientTooOld, match="install postgresql-client-99"):
        client_for(99)


def test_a_server_gets_its_own_major_else_the_oldest_newer_client(tmp_path: Path) -> None:
    d = _fake_client(tmp_path / "pg90" / "bin", "90.1")
    env = {**os.environ, BIN_DIRS_ENV: str(d)}
    majors = [c.major for c in installed_clients(env)]
    assert majors[-1] == 90 and 15 in majors
    assert client_for(90, env).bin_dir == d.resolve()
    assert client_for(89, env).bin_dir == d.resolve()
    assert client_for(15, env).major == 15  # its own major, not the newest
    assert client_for(None, env).major == 90
