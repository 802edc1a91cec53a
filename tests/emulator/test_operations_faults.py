"""Operations (states, 423 while running, backend errors), faults, 429, persistence."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from neon_emulator.testing import EmulatorProcess


def test_mutations_get_423_while_operations_run_then_succeed(tmp_path, api_factory):
    config = {"compute": "metadata", "op_duration_ms": 8000, "rate_limits": {"enabled": False}}
    with EmulatorProcess(tmp_path / "slow", config=config) as emu:
        c = api_factory(emu)
        body = c.post("/projects", json={"project": {"name": "slow"}}).json()
        pid = body["project"]["id"]
        assert [o["status"] for o in body["operations"]] == ["scheduling", "scheduling"]
        r = c.post(f"/projects/{pid}/branches", json={})
        assert r.status_code == 423 and r.json()["code"] == "LOCKED"
        ops = c.get(f"/projects/{pid}/operations").json()["operations"]
        assert {o["status"] for o in ops} <= {"scheduling", "running"}
        assert c.get(f"/projects/{pid}").status_code == 200  # reads are never locked
        emu.admin("GET", "state")
        body2 = c.get(f"/projects/{pid}/branches").json()
        assert body2["branches"][0]["current_state"] == "init"


def test_admin_lock_window_gives_423(free, emu):
    pid = free.create_project(name="locked")["project"]["id"]
    emu.admin("POST", "lock", {"project_id": pid, "seconds": 600})
    assert free.post(f"/projects/{pid}/branches", json={}).status_code == 423
    assert free.get(f"/projects/{pid}").status_code == 200


def test_backend_error_makes_operation_error_with_message(free, emu):
    body = free.create_project(name="err")
    pid, bid = body["project"]["id"], body["branch"]["id"]
    emu.admin("POST", "compute_faults", {"method": "start_endpoint", "message": "no capacity"})
    r = free.ok("POST", f"/projects/{pid}/endpoints", 201,
                json={"endpoint": {"branch_id": bid, "type": "read_only"}})
    (op,) = free.wait(pid, r["operations"])
    assert op["status"] == "error" and op["error"] == "no capacity"
    ep = free.ok("GET", f"/projects/{pid}/endpoints/{r['endpoint']['id']}")["endpoint"]
    assert ep["current_state"] == "idle"


def test_injected_error_rate_answers_general_error(free, emu):
    emu.admin("PUT", "faults", {"faults": [{"route": "GET /projects", "error_rate": 1.0,
                                            "status": 503}]})
    r = free.get("/projects")
    assert r.status_code == 503 and r.json()["code"] == "INJECTED_FAULT"
    assert free.get("/regions").status_code == 200
    emu.admin("PUT", "faults", {"faults": []})
    assert free.get("/projects").status_code == 200


def test_act_then_drop_creates_the_project_but_the_client_sees_no_answer(free, emu):
    emu.admin("PUT", "faults", {"faults": [{"route": "POST /projects", "error_rate": 1.0,
                                            "drop_after_act": True, "times": 1}]})
    with pytest.raises(httpx.TransportError):
        free.post("/projects", json={"project": {"name": "ambiguous"}})
    names = [p["name"] for p in free.ok("GET", "/projects")["projects"]]
    assert names == ["ambiguous"]
    assert free.post("/projects", json={"project": {"name": "second"}}).status_code == 201


def test_state_counts_requests_per_route(free, emu):
    free.get("/projects")
    free.get("/projects")
    free.get("/regions")
    state = emu.admin("GET", "state")
    assert state["requests"]["GET /projects"] == 2
    assert state["requests"]["GET /regions"] == 1


def test_rate_limits_429_per_route_and_per_account_and_switch_off(tmp_path, api_factory):
    config = {"compute": "metadata", "op_duration_ms": 0,
              "rate_limits": {"per_route_per_second": 3, "per_account_per_minute": 1000}}
    with EmulatorProcess(tmp_path / "rl", config=config) as emu:
        c = api_factory(emu)
        codes = [c.get("/regions").status_code for _ in range(20)]
        assert 429 in codes and codes[:3] == [200, 200, 200]
        assert c.get("/projects").status_code == 200  # another route has its own bucket
        emu.admin("PUT", "rate_limits", {"per_route_per_second": 1000,
                                         "per_account_per_minute": 5})
        codes = [c.get("/projects").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        assert c.get("/regions").json()["code"] == "TOO_MANY_REQUESTS"
        emu.admin("PUT", "rate_limits", {"enabled": False})
        assert {c.get("/projects").status_code for _ in range(50)} == {200}


def test_state_persists_across_restart_with_same_credentials(tmp_path, api_factory):
    config = {"compute": "metadata", "op_duration_ms": 0, "rate_limits": {"enabled": False}}
    data = tmp_path / "persist"
    with EmulatorProcess(data, config=config) as emu:
        c = api_factory(emu)
        creds = emu.credentials
        pid = c.post("/projects", json={"project": {"name": "keep"}}).json()["project"]["id"]
        c.post(f"/organizations/{creds['orgs']['free']['id']}/api_keys",
               json={"key_name": "extra"})
    saved = json.loads((data / "state.json").read_text())
    assert pid in saved["projects"]
    with EmulatorProcess(data, config=config) as emu:
        c = api_factory(emu)
        assert emu.credentials == creds
        got = c.get(f"/projects/{pid}").json()["project"]
        assert got["name"] == "keep"
        ops = c.get(f"/projects/{pid}/operations").json()["operations"]
        assert {o["status"] for o in ops} == {"finished"}
        keys = c.get(f"/organizations/{creds['orgs']['free']['id']}/api_keys").json()
        assert "extra" in [k["name"] for k in keys]


def test_sigterm_stops_cleanly(tmp_path):
    emu = EmulatorProcess(tmp_path / "term", config={"compute": "metadata"}).start()
    assert emu.stop() == 0


def test_background_job_deletes_expired_branches(tmp_path, api_factory):
    config = {"compute": "metadata", "op_duration_ms": 0, "rate_limits": {"enabled": False},
              "expiry_check_seconds": 0.2}
    with EmulatorProcess(tmp_path / "exp", config=config) as emu:
        c = api_factory(emu)
        pid = c.post("/projects", json={"project": {}}).json()["project"]["id"]
        deadline = time.monotonic() + 30
        while True:  # the project's own operations must finish first (423 otherwise)
            r = c.post(f"/projects/{pid}/branches",
                       json={"branch": {"expires_at": "2020-01-01T00:00:00Z"}})
            if r.status_code != 423 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert r.status_code == 201
        bid = r.json()["branch"]["id"]
        while c.get(f"/projects/{pid}/branches/{bid}").status_code == 200:
            assert time.monotonic() < deadline, "expired branch was never deleted"
            time.sleep(0.1)
