"""Pulumi state in PostgreSQL: the engine's DIY `postgres://` backend on a real PostgreSQL 15.

Two "hosts" (separate work dirs and HOMEs, sharing only the database and the emulator) see
the same stacks; the built-in passphrase is refused; the password never shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import EngineUnavailable, FleetManager

pytestmark = pytest.mark.engine


@pytest.fixture
def pg_mode(monkeypatch: pytest.MonkeyPatch, db_url: str) -> str:
    # PULUMI_BACKEND_URL names the database (fleets stay in files here; with
    # NEON_TENANTS_DATABASE_URL the whole PostgreSQL mode is on: test_queue_engine.py)
    monkeypatch.delenv("NEON_TENANTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("PULUMI_BACKEND_URL", db_url)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "team-secret-from-a-vault")
    return db_url


def host(root: Path, emu: Any, monkeypatch: pytest.MonkeyPatch) -> FleetManager:
    """A FleetManager as on another machine: its own work dir, stacks dir and HOME."""
    (root / "home").mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(root / "home"))
    return FleetManager(
        root / "stacks", work_dir=root / "work", lock_dir=root / "locks",
        neon_env=emu.client_env, default_shards={"free": 1},
    )


def test_stack_state_lives_in_postgres_and_another_host_reads_it(
    pg_mode: str, metadata_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    pg_server: Any,
) -> None:
    with host(tmp_path / "a", metadata_emulator, monkeypatch) as a:
        conn = a.provision("pgstate-one", "free")
        assert a.engine.env["PULUMI_BACKEND_URL"].startswith("postgres://")
        assert pg_server.password not in a.engine.env["PULUMI_BACKEND_URL"]
    with psycopg.connect(pg_mode) as db:
        keys = [r[0] for r in db.execute("SELECT key FROM pulumi_state")]
    assert any(k.endswith("/stacks/neon-tenants/free.json") for k in keys), keys
    with host(tmp_path / "b", metadata_emulator, monkeypatch) as b:
        assert "free" in b.engine.stack_names()
        outputs = b.engine.outputs("free")
    assert outputs["pgstate-one"]["project_id"] == conn.project_id


def test_default_passphrase_is_refused_with_a_clear_error(
    pg_mode: str, metadata_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "neon-tenants-local")
    with pytest.raises(EngineUnavailable) as info:
        host(tmp_path / "c", metadata_emulator, monkeypatch)
    assert "PULUMI_CONFIG_PASSPHRASE" in str(info.value) and "refused" in str(info.value)
    assert not (tmp_path / "c" / "stacks" / "fleets" / "free.yaml").exists()


def test_wrong_database_password_error_never_shows_the_password(
    pg_mode: str, metadata_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = pg_mode.replace("@127.0.0.1", "x-Wr0ngPassw0rd@127.0.0.1").replace(
        ":" + pg_mode.split(":")[2].split("@")[0], ":", 1
    )
    assert "x-Wr0ngPassw0rd" in bad
    monkeypatch.setenv("PULUMI_BACKEND_URL", bad)
    with host(tmp_path / "d", metadata_emulator, monkeypatch) as fm:
        with pytest.raises(Exception) as info:
            fm.engine.stack_names()
    assert "x-Wr0ngPassw0rd" not in str(info.value)
