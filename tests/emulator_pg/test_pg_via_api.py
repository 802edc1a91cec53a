"""Through the HTTP API: the connection strings the emulator hands out work (issue 5)."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from .conftest import _scratch, free_port, postgres_pids_with

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_DONE = {"finished", "failed", "error", "skipped", "cancelled"}


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[Any, dict[str, str], Path]]:
    from neon_emulator.testing import EmulatorProcess

    data = Path(tempfile.mkdtemp(prefix="nemu-api-", dir=_scratch()))
    try:
        with EmulatorProcess(data, config={"endpoint_port": free_port()}) as emu:
            key = emu.credentials["orgs"]["free"]["api_key"]
            yield emu, {"Authorization": f"Bearer {key}"}, data
        assert postgres_pids_with(data) == [], "clusters left running after the emulator"
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _wait(emu: Any, headers: dict[str, str], project_id: str, ops: list[dict]) -> None:
    for op in ops:
        deadline = time.monotonic() + 120
        while True:
            got = httpx.get(f"{emu.base_url}/projects/{project_id}/operations/{op['id']}",
                            headers=headers, timeout=30).json()["operation"]
            if got["status"] in _DONE:
                assert got["status"] == "finished", got
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.1)


def _create_project(emu: Any, headers: dict[str, str], name: str) -> dict[str, Any]:
    """POST /projects (asserting 201) and wait for its operations; returns the reply."""
    resp = httpx.post(f"{emu.base_url}/projects", json={"project": {"name": name}},
                      headers=headers, timeout=60)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    _wait(emu, headers, body["project"]["id"], body["operations"])
    return body


def test_project_connection_uris_reach_real_postgres(api):
    emu, headers, _ = api
    body = _create_project(emu, headers, "pg-api")
    uri = body["connection_uris"][0]["connection_uri"]
    params = body["connection_uris"][0]["connection_parameters"]
    with psycopg.connect(uri, connect_timeout=30, autocommit=True) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone() == (
            params["role"], params["database"])
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    pooled = uri.replace(f"@{params['host']}", f"@{params['pooler_host']}")
    with psycopg.connect(pooled, connect_timeout=30, autocommit=True,
                         prepare_threshold=None) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_connection_uri_survives_an_emulator_restart():
    """State persists: after a restart the same URI reaches the same data (compute wakes)."""
    from neon_emulator.testing import EmulatorProcess

    data = Path(tempfile.mkdtemp(prefix="nemu-restart-", dir=_scratch()))
    config = {"endpoint_port": free_port()}
    try:
        with EmulatorProcess(data, config=config) as emu:
            key = emu.credentials["orgs"]["paid"]["api_key"]
            headers = {"Authorization": f"Bearer {key}"}
            body = _create_project(emu, headers, "survivor")
            project_id = body["project"]["id"]
            uri = body["connection_uris"][0]["connection_uri"]
            with psycopg.connect(uri, connect_timeout=30, autocommit=True) as conn:
                conn.execute("CREATE TABLE kept (x int)")
                conn.execute("INSERT INTO kept VALUES (42)")
        assert postgres_pids_with(data) == []
        with EmulatorProcess(data, config=config) as emu:
            got = httpx.get(f"{emu.base_url}/projects/{project_id}", headers=headers, timeout=30)
            assert got.status_code == 200, got.text
            with psycopg.connect(uri, connect_timeout=60, autocommit=True) as conn:
                assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
        assert postgres_pids_with(data) == []
    finally:
        shutil.rmtree(data, ignore_errors=True)
