"""The PostgreSQL major a project asks for (issue #15), through the HTTP API and real binaries.

15 is Debian's; 14/16/17/18 are the registry builds the bootstrap unpacks into the cache. A
project created with pg_version 17 answers `show server_version` with 17, and branching
from its running head and point-in-time branching and restore work on it; a major that is
not installed is refused with a 400 naming what is, and nothing is stored.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from neon_emulator.compute import _proc, majors
from neon_emulator.compute.layout import Layout, checkpoint_lsn

from .conftest import PG_BIN, _scratch, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_DONE = {"finished", "failed", "error", "skipped", "cancelled"}


class Api:
    def __init__(self, proc: Any) -> None:
        key = proc.credentials["orgs"]["paid"]["api_key"]
        self.http = httpx.Client(base_url=proc.base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {key}"})

    def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code == status, r.text
        body = r.json()
        for op in body.get("operations", []) if isinstance(body, dict) else []:
            deadline = time.monotonic() + 180
            while True:
                got = self.http.get(f"/projects/{op['project_id']}/operations/{op['id']}")
                cur = got.json()["operation"]
                if cur["status"] in _DONE:
                    assert cur["status"] == "finished", (cur, cur.get("error"))
                    break
                assert time.monotonic() < deadline, cur
                time.sleep(0.05)
        return body


def _emulator(prefix: str) -> Iterator[Any]:
    from neon_emulator.testing import EmulatorProcess

    data = Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch()))
    try:
        with EmulatorProcess(data, config={"endpoint_port": free_port()}) as proc:
            yield proc
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    installed = majors.available()
    if installed != [14, 15, 16, 17, 18]:
        pytest.fail(f"PostgreSQL majors installed: {installed}; run scripts/bootstrap.sh")
    for proc in _emulator("nemu-majors-"):
        a = Api(proc)
        yield a
        a.http.close()


def _rows(uri: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri, connect_timeout=60, autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


def _uri(body: dict[str, Any]) -> str:
    return str(body["connection_uris"][0]["connection_uri"])


def test_pg17_project_runs_17_and_branches_and_restores_in_time(api):
    created = api.call("POST", "/projects", 201,
                       json={"project": {"name": "seventeen", "pg_version": 17}})
    pid, main = created["project"]["id"], created["branch"]["id"]
    assert created["project"]["pg_version"] == 17
    assert api.call("GET", f"/projects/{pid}")["project"]["pg_version"] == 17
    uri = _uri(created)
    assert _rows(uri, "SHOW server_version")[0][0].startswith("17.")
    _rows(uri, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
    time.sleep(1.5)
    point = _rows(uri, "SELECT to_char(now() AT TIME ZONE 'UTC', "
                       "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")[0][0]
    time.sleep(1.5)
    _rows(uri, "INSERT INTO t VALUES (2)")

    # from the running head (online pg_basebackup of 17)
    head = api.call("POST", f"/projects/{pid}/branches", 201, json={
        "branch": {"name": "head"}, "endpoints": [{"type": "read_write"}]})
    head_uri = api.call("GET", f"/projects/{pid}/connection_uri", params={
        "branch_id": head["branch"]["id"], "database_name": "neondb",
        "role_name": "neondb_owner"})["uri"]
    assert _rows(head_uri, "SHOW server_version")[0][0].startswith("17.")
    assert _rows(head_uri, "SELECT x FROM t ORDER BY x") == [(1,), (2,)]

    # schema only (pg_dump 17)
    schema = api.call("POST", f"/projects/{pid}/branches", 201, json={
        "branch": {"name": "schema", "init_source": "schema-only"},
        "endpoints": [{"type": "read_write"}]})
    schema_uri = api.call("GET", f"/projects/{pid}/connection_uri", params={
        "branch_id": schema["branch"]["id"], "database_name": "neondb",
        "role_name": "neondb_owner"})["uri"]
    assert _rows(schema_uri, "SELECT count(*) FROM t") == [(0,)]

    # point in time
    past = api.call("POST", f"/projects/{pid}/branches", 201, json={
        "branch": {"name": "past", "parent_timestamp": point},
        "endpoints": [{"type": "read_write"}]})
    past_uri = api.call("GET", f"/projects/{pid}/connection_uri", params={
        "branch_id": past["branch"]["id"], "database_name": "neondb",
        "role_name": "neondb_owner"})["uri"]
    assert _rows(past_uri, "SELECT x FROM t ORDER BY x") == [(1,)]
    assert _rows(past_uri, "SHOW server_version")[0][0].startswith("17.")

    # restore the default branch in place to the point
    api.call("POST", f"/projects/{pid}/branches/{main}/restore", json={
        "source_branch_id": main, "source_timestamp": point,
        "preserve_under_name": "before-restore"})
    assert _rows(uri, "SELECT x FROM t ORDER BY x") == [(1,)]
    assert _rows(uri, "SHOW server_version")[0][0].startswith("17.")


def test_every_installed_major_answers_with_its_version(api):
    for major in majors.available():
        made = api.call("POST", "/projects", 201,
                        json={"project": {"name": f"pg{major}", "pg_version": major}})
        assert made["project"]["pg_version"] == major
        assert _rows(_uri(made), "SHOW server_version")[0][0].startswith(f"{major}.")
        api.call("DELETE", f"/projects/{made['project']['id']}")


def test_major_not_installed_is_refused_and_nothing_stored(monkeypatch):
    monkeypatch.setenv("NEON_EMULATOR_PG_MAJORS_DIR", "/nonexistent-pg-majors")
    for proc in _emulator("nemu-only15-"):
        a = Api(proc)
        before = a.call("GET", "/projects")["projects"]
        r = a.http.post("/projects", json={"project": {"pg_version": 17}})
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert "pg_version 17 is not available" in message and "available: 15" in message
        assert a.call("GET", "/projects")["projects"] == before
        made = a.call("POST", "/projects", 201, json={"project": {"name": "default"}})
        assert made["project"]["pg_version"] == 15  # newest installed, reported honestly
        assert _rows(_uri(made), "SHOW server_version")[0][0].startswith("15.")
        a.http.close()


def test_checkpoint_lsn_from_pg_control_matches_pg_controldata():
    root = Path(tempfile.mkdtemp(prefix="nemu-ctl-", dir=_scratch()))
    try:
        _proc.ensure_traversable(root)
        template = Layout(root).ensure_template(15)
        out = subprocess.run([str(PG_BIN / "pg_controldata"), "-D", str(template)],
                             capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("Latest checkpoint location:"))
        assert checkpoint_lsn(template) == line.split(":", 1)[1].strip()
    finally:
        _proc.forget_traversable(root)
        shutil.rmtree(root, ignore_errors=True)
