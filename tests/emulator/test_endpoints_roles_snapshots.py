"""Endpoints (states, suspend timeout rules, quota refusal), roles/databases, snapshots."""

from __future__ import annotations

import pytest


@pytest.fixture
def project(paid):
    return paid.create_project(name="ep")


def test_endpoint_lifecycle_create_suspend_start_restart_delete(paid, project):
    pid = project["project"]["id"]
    dev = paid.ok("POST", f"/projects/{pid}/branches", 201, json={"branch": {"name": "d"}})
    paid.wait(pid, dev["operations"])
    body = paid.ok("POST", f"/projects/{pid}/endpoints", 201, json={"endpoint": {
        "branch_id": dev["branch"]["id"], "type": "read_only",
        "autoscaling_limit_min_cu": 0.5, "autoscaling_limit_max_cu": 4,
        "suspend_timeout_seconds": 0}})
    ep = body["endpoint"]
    assert ep["current_state"] == "init" and ep["pending_state"] == "active"
    assert ep["suspend_timeout_seconds"] == 0
    paid.wait(pid, body["operations"])
    base = f"/projects/{pid}/endpoints/{ep['id']}"
    assert paid.ok("GET", base)["endpoint"]["current_state"] == "active"
    sus = paid.ok("POST", base + "/suspend")
    paid.wait(pid, sus["operations"])
    assert paid.ok("GET", base)["endpoint"]["current_state"] == "idle"
    for action in ("start", "restart"):
        st = paid.ok("POST", f"{base}/{action}")
        paid.wait(pid, st["operations"])
        assert paid.ok("GET", base)["endpoint"]["current_state"] == "active"
    upd = paid.ok("PATCH", base, json={"endpoint": {"autoscaling_limit_max_cu": 8,
                                                    "suspend_timeout_seconds": -1}})
    assert upd["endpoint"]["autoscaling_limit_max_cu"] == 8
    paid.wait(pid, upd["operations"])
    listed = paid.ok("GET", f"/projects/{pid}/endpoints")["endpoints"]
    assert {e["id"] for e in listed} == {ep["id"], project["endpoints"][0]["id"]}
    dl = paid.ok("DELETE", base)
    paid.wait(pid, dl["operations"])
    assert paid.delete(base).status_code == 204


@pytest.mark.parametrize("value,status", [(30, 400), (604801, 400), (-2, 400), (60, 201)])
def test_suspend_timeout_range_on_paid_org(paid, project, value, status):
    pid = project["project"]["id"]
    br = paid.ok("POST", f"/projects/{pid}/branches", 201, json={})
    paid.wait(pid, br["operations"])
    r = paid.post(f"/projects/{pid}/endpoints", json={"endpoint": {
        "branch_id": br["branch"]["id"], "type": "read_write",
        "suspend_timeout_seconds": value}})
    assert r.status_code == status, r.text


def test_computes_refuse_start_while_quota_exceeded(paid, project, emu):
    pid = project["project"]["id"]
    ep = project["endpoints"][0]["id"]
    emu.admin("POST", f"projects/{pid}/quota_exceeded", {"reason": "active_time_seconds"})
    r = paid.post(f"/projects/{pid}/endpoints/{ep}/start")
    assert r.status_code == 422 and "quota" in r.json()["message"]
    emu.admin("POST", f"projects/{pid}/quota_exceeded", {"reason": None})
    paid.wait(pid, paid.ok("POST", f"/projects/{pid}/endpoints/{ep}/start")["operations"])


def test_roles_databases_reveal_and_reset_password(paid, project):
    pid, bid = project["project"]["id"], project["branch"]["id"]
    base = f"/projects/{pid}/branches/{bid}"
    role = paid.ok("POST", base + "/roles", 201, json={"role": {"name": "app"}})
    assert role["role"]["password"]
    paid.wait(pid, role["operations"])
    assert paid.post(base + "/roles", json={"role": {"name": "app"}}).status_code == 409
    revealed = paid.ok("GET", base + "/roles/app/reveal_password")["password"]
    assert revealed == role["role"]["password"]
    reset = paid.ok("POST", base + "/roles/app/reset_password")
    new = reset["role"]["password"]
    assert new != revealed
    paid.wait(pid, reset["operations"])
    assert paid.ok("GET", base + "/roles/app/reveal_password")["password"] == new
    db = paid.ok("POST", base + "/databases", 201,
                 json={"database": {"name": "appdb", "owner_name": "app"}})
    paid.wait(pid, db["operations"])
    assert {d["name"] for d in paid.ok("GET", base + "/databases")["databases"]} == {
        "neondb", "appdb"}
    assert paid.delete(base + "/roles/app").status_code == 409  # owns appdb
    paid.wait(pid, paid.ok("DELETE", base + "/databases/appdb")["operations"])
    assert paid.delete(base + "/databases/appdb").status_code == 204
    paid.wait(pid, paid.ok("DELETE", base + "/roles/app")["operations"])
    assert paid.delete(base + "/roles/app").status_code == 204
    assert paid.get(base + "/roles/app/reveal_password").status_code == 404


def test_reveal_password_is_412_without_store_passwords(paid):
    body = paid.create_project(name="nostore", store_passwords=False)
    pid, bid = body["project"]["id"], body["branch"]["id"]
    r = paid.get(f"/projects/{pid}/branches/{bid}/roles/neondb_owner/reveal_password")
    assert r.status_code == 412


def test_snapshot_create_list_rename_delete(paid, project):
    pid, bid = project["project"]["id"], project["branch"]["id"]
    body = paid.ok("POST", f"/projects/{pid}/branches/{bid}/snapshot",
                   params={"name": "v1", "expires_at": "2031-01-01T00:00:00Z"})
    snap = body["snapshot"]
    assert snap["name"] == "v1" and snap["source_branch_id"] == bid
    paid.wait(pid, body["operations"])
    assert [s["id"] for s in paid.ok("GET", f"/projects/{pid}/snapshots")["snapshots"]] == [
        snap["id"]]
    ren = paid.ok("PATCH", f"/projects/{pid}/snapshots/{snap['id']}",
                  json={"snapshot": {"name": "v1-renamed"}})
    assert ren["snapshot"]["name"] == "v1-renamed"
    dl = paid.ok("DELETE", f"/projects/{pid}/snapshots/{snap['id']}", 202)
    paid.wait(pid, dl["operations"])
    assert paid.ok("GET", f"/projects/{pid}/snapshots")["snapshots"] == []


def test_snapshot_restore_then_finalize_swaps_active_branch(paid, project):
    pid, main = project["project"]["id"], project["branch"]["id"]
    ep = project["endpoints"][0]["id"]
    snap = paid.ok("POST", f"/projects/{pid}/branches/{main}/snapshot", params={"name": "s"})
    paid.wait(pid, snap["operations"])
    restored = paid.ok("POST", f"/projects/{pid}/snapshots/{snap['snapshot']['id']}/restore",
                       json={"name": "restored"})
    new = restored["branch"]
    assert new["restore_status"] == "restored" and new["restored_from"] == snap["snapshot"]["id"]
    paid.wait(pid, restored["operations"])
    fin = paid.ok("POST", f"/projects/{pid}/branches/{new['id']}/finalize_restore", json={})
    paid.wait(pid, fin["operations"])
    now_new = paid.ok("GET", f"/projects/{pid}/branches/{new['id']}")["branch"]
    old = paid.ok("GET", f"/projects/{pid}/branches/{main}")["branch"]
    assert now_new["default"] is True and now_new["name"] == "main"
    assert now_new["restore_status"] == "finalized"
    assert old["default"] is False and old["name"] == "main (old)"
    assert paid.ok("GET", f"/projects/{pid}/endpoints/{ep}")["endpoint"]["branch_id"] == new["id"]
    again = paid.post(f"/projects/{pid}/branches/{new['id']}/finalize_restore", json={})
    assert again.status_code == 409


def test_snapshot_restore_with_finalize_in_one_call(paid, project):
    pid, main = project["project"]["id"], project["branch"]["id"]
    snap = paid.ok("POST", f"/projects/{pid}/branches/{main}/snapshot")
    paid.wait(pid, snap["operations"])
    body = paid.ok("POST", f"/projects/{pid}/snapshots/{snap['snapshot']['id']}/restore",
                   json={"finalize_restore": True, "target_branch_id": main})
    paid.wait(pid, body["operations"])
    branches = {b["id"]: b for b in paid.ok("GET", f"/projects/{pid}/branches")["branches"]}
    assert branches[body["branch"]["id"]]["default"] is True
    assert branches[main]["name"] == "main (old)"
