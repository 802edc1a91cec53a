"""TLS and SCRAM channel binding on every endpoint and pooler address (issue #15).

Through the HTTP API and the real proxy, PostgreSQL 15 and PgBouncer: the URIs the API hands
out (`sslmode=require&channel_binding=require`) work with psycopg and psql, direct and
pooled, against an endpoint that was suspended (wake-up over TLS); `verify-full` with the
emulator's CA works and fails with another CA; `sslmode=disable` still works.
"""

from __future__ import annotations

import json
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

from neon_emulator.compute.tls import Authority

from .conftest import PG_BIN, _scratch, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_DONE = {"finished", "failed", "error", "skipped", "cancelled"}
TLS_QUERY = "&channel_binding=require"


class Emu:
    def __init__(self, proc: Any) -> None:
        self.proc = proc
        key = proc.credentials["orgs"]["paid"]["api_key"]
        self.http = httpx.Client(base_url=proc.base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})

    def wait(self, project_id: str, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            deadline = time.monotonic() + 120
            while True:
                got = self.http.get(f"/projects/{project_id}/operations/{op['id']}").json()
                if got["operation"]["status"] in _DONE:
                    assert got["operation"]["status"] == "finished", got
                    break
                assert time.monotonic() < deadline, got
                time.sleep(0.05)

    def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, **kw)
        assert r.status_code == status, r.text
        body = r.json()
        if isinstance(body, dict) and body.get("operations") and "project_id" in str(body):
            self.wait(body["operations"][0]["project_id"], body["operations"])
        return body


@pytest.fixture(scope="module")
def emu() -> Iterator[Emu]:
    from neon_emulator.testing import EmulatorProcess

    data = Path(tempfile.mkdtemp(prefix="nemu-tls-", dir=_scratch()))
    try:
        with EmulatorProcess(data, config={"endpoint_port": free_port()}) as proc:
            e = Emu(proc)
            yield e
            e.http.close()
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def project(emu: Emu) -> dict[str, Any]:
    body = emu.call("POST", "/projects", 201, json={"project": {"name": "tls"}})
    pid = body["project"]["id"]
    emu.call("POST", f"/projects/{pid}/branches/{body['branch']['id']}/roles", 201,
             json={"role": {"name": "app"}})
    return body


def _suspend(emu: Emu, project: dict[str, Any]) -> None:
    pid, eid = project["project"]["id"], project["endpoints"][0]["id"]
    emu.call("POST", f"/projects/{pid}/endpoints/{eid}/suspend")
    state = emu.call("GET", f"/projects/{pid}/endpoints/{eid}")["endpoint"]["current_state"]
    assert state == "idle"


def _uris(project: dict[str, Any]) -> tuple[str, str]:
    details = project["connection_uris"][0]
    uri, params = details["connection_uri"], details["connection_parameters"]
    return uri, uri.replace(f"@{params['host']}", f"@{params['pooler_host']}")


def test_uris_carry_neon_tls_parameters(project):
    for uri in _uris(project):
        assert uri.endswith("?sslmode=require&channel_binding=require")


@pytest.mark.parametrize("pooled", [False, True], ids=["direct", "pooled"])
def test_psycopg_channel_binding_wakes_suspended_endpoint(emu, project, pooled):
    _suspend(emu, project)
    uri = _uris(project)[1 if pooled else 0]
    with psycopg.connect(uri, connect_timeout=30, autocommit=True,
                         prepare_threshold=None) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user").fetchone() == ("neondb_owner",)


def test_psql_channel_binding_direct_and_pooled(emu, project):
    _suspend(emu, project)
    for uri in _uris(project):
        out = subprocess.run([str(PG_BIN / "psql"), uri, "-XAtc", "SELECT 41 + 1"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "42"


def test_verify_full_with_emulator_ca_and_refused_with_another(emu, project, tmp_path):
    state = emu.proc.admin("GET", "state")
    ca = Path(state["ca_file"])
    assert ca == emu.proc.ca_file.resolve()
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    other = Authority(tmp_path / "other").ensure()
    for uri in _uris(project):
        for mode in ("verify-ca", "verify-full"):
            good = uri.replace("sslmode=require", f"sslmode={mode}&sslrootcert={ca}")
            with psycopg.connect(good, connect_timeout=30, prepare_threshold=None) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            bad = uri.replace("sslmode=require", f"sslmode={mode}&sslrootcert={other}")
            with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
                psycopg.connect(bad, connect_timeout=30)


def test_wrong_password_refused_over_tls(project):
    for uri in _uris(project):
        password = project["connection_uris"][0]["connection_parameters"]["password"]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(uri.replace(password, "wrong-password"), connect_timeout=30)


def test_sslmode_disable_still_works_plaintext(project):
    for uri in _uris(project):
        plain = uri.replace("sslmode=require&channel_binding=require", "sslmode=disable")
        with psycopg.connect(plain, connect_timeout=30, prepare_threshold=None) as conn:
            assert not conn.pgconn.ssl_in_use
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_second_role_and_connection_uri_route_bind_too(emu, project):
    pid = project["project"]["id"]
    for pooled in ("false", "true"):
        uri = emu.call("GET", f"/projects/{pid}/connection_uri", params={
            "database_name": "neondb", "role_name": "app", "pooled": pooled})["uri"]
        assert uri.endswith(TLS_QUERY)
        with psycopg.connect(uri, connect_timeout=30, prepare_threshold=None) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT current_user").fetchone() == ("app",)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed on this machine")
def test_node_postgres_channel_binding_verified_ca_wakes_suspended(emu, project):
    """node-postgres from tests/emulator/neon_ts_client (installed by the bootstrap)."""
    client_dir = Path(__file__).parent.parent / "emulator" / "neon_ts_client"
    assert (client_dir / "node_modules" / "pg").is_dir(), "run `make setup`"
    _suspend(emu, project)
    run = subprocess.run(["node", "connect.js", str(emu.proc.ca_file), *_uris(project)],
                         cwd=client_dir, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    assert [s["who"] for s in seen] == ["neondb_owner", "neondb_owner"]
    assert all(s["tls"] for s in seen)
    wrong = subprocess.run(["node", "connect.js", str(Authority(emu.proc.data_dir / "x").ensure()),
                            _uris(project)[0]], cwd=client_dir, capture_output=True, text=True,
                           timeout=120)
    assert wrong.returncode != 0 and "certificate" in wrong.stderr


def test_sql_created_role_binds_through_scram_pass_through(project):
    """A role made in SQL is unknown to the control plane: the proxy checks the client's proof
    against the verifier in pg_authid (channel-bound) and logs in upstream with the ClientKey
    it proved, so channel_binding=require works for it too, and a password changed in SQL
    takes effect at once."""
    uri = _uris(project)[0]
    with psycopg.connect(uri, connect_timeout=30, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS sqlrole")
        conn.execute("CREATE ROLE sqlrole LOGIN PASSWORD 'sql-Pw-1'")
    password = project["connection_uris"][0]["connection_parameters"]["password"]
    mine = uri.replace(f"neondb_owner:{password}", "sqlrole:sql-Pw-1")
    with psycopg.connect(mine, connect_timeout=30) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT current_user").fetchone() == ("sqlrole",)
        conn.execute("ALTER ROLE sqlrole PASSWORD 'sql-Pw-2'")
        conn.commit()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(mine, connect_timeout=30)
    with psycopg.connect(mine.replace("sql-Pw-1", "sql-Pw-2"), connect_timeout=30) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("sqlrole",)


def test_ca_generated_once_per_data_dir(emu):
    first = emu.proc.ca_file.read_bytes()
    assert (emu.proc.data_dir / "tls" / "ca.pem").read_bytes() == first
    assert Authority(emu.proc.data_dir / "tls").ensure().read_bytes() == first
