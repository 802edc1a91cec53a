"""FleetManager closes the Neon client it built (its connection pool), never one passed in."""

from __future__ import annotations

from pathlib import Path

from neon_tenants.automation import FleetManager
from neon_tenants.client import NeonClient, NeonCredentials


def test_close_releases_the_client_the_manager_built(tmp_path: Path) -> None:
    env = {"NEON_API_BASE_URL": "http://127.0.0.1:9/api/v2"}
    with FleetManager(tmp_path / "stacks", lock_dir=tmp_path / "locks", neon_env=env) as fm:
        built = fm.client
        assert not built._core.http.is_closed
    assert built._core.http.is_closed
    fm.close()  # idempotent


def test_close_leaves_a_passed_in_client_open(tmp_path: Path) -> None:
    client = NeonClient(NeonCredentials())
    try:
        with FleetManager(tmp_path / "stacks", lock_dir=tmp_path / "locks", client=client) as fm:
            assert fm.client is client
        assert not client._core.http.is_closed
    finally:
        client.close()
