"""Key rules and isolation, org API keys, users/me, and project transfers (403/404/406/422)."""

from __future__ import annotations


def test_org_key_sees_only_its_org(free, paid):
    pid = paid.create_project(name="paid-only")["project"]["id"]
    assert free.get(f"/projects/{pid}").status_code == 404
    assert free.get(f"/projects/{pid}/branches").status_code == 404
    assert pid not in [p["id"] for p in free.ok("GET", "/projects")["projects"]]
    assert free.delete(f"/projects/{pid}").status_code == 404


def test_org_key_cannot_use_another_orgs_id(free, org_ids):
    assert free.get(f"/organizations/{org_ids['paid']}").status_code == 404
    r = free.post("/projects", json={"project": {"org_id": org_ids["paid"]}})
    assert r.status_code == 404


def test_personal_key_sees_both_orgs(personal, free, paid, org_ids):
    a = free.create_project(name="a")["project"]["id"]
    b = paid.create_project(name="b")["project"]["id"]
    for pid in (a, b):
        assert personal.get(f"/projects/{pid}").status_code == 200
    orgs = personal.ok("GET", "/users/me/organizations")["organizations"]
    assert {o["id"] for o in orgs} == set(org_ids.values())
    listed = personal.ok("GET", "/projects", params={"org_id": org_ids["free"]})["projects"]
    assert [p["id"] for p in listed] == [a]


def test_project_scoped_key_sees_only_its_project(free, client_for, org_ids):
    a = free.create_project(name="a")["project"]["id"]
    b = free.create_project(name="b")["project"]["id"]
    created = free.ok("POST", f"/organizations/{org_ids['free']}/api_keys",
                      json={"key_name": "scoped", "project_id": a})
    assert created["project_id"] == a and created["key"]
    scoped = client_for(created["key"])
    assert scoped.get(f"/projects/{a}").status_code == 200
    assert scoped.get(f"/projects/{b}").status_code == 404
    assert [p["id"] for p in scoped.ok("GET", "/projects")["projects"]] == [a]
    assert scoped.post("/projects", json={"project": {}}).status_code == 403
    keys = free.ok("GET", f"/organizations/{org_ids['free']}/api_keys")
    assert any(k.get("project_id") == a for k in keys)
    revoked = free.ok("DELETE", f"/organizations/{org_ids['free']}/api_keys/{created['id']}")
    assert revoked["revoked"] is True
    assert scoped.get(f"/projects/{a}").status_code == 401


def test_personal_api_keys_and_users_me(personal, free, client_for):
    me = personal.ok("GET", "/users/me")
    assert me["email"] and me["branches_limit"] == 1000
    assert free.get("/users/me").status_code == 403
    created = personal.ok("POST", "/api_keys", json={"key_name": "ci"})
    other = client_for(created["key"])
    assert other.get("/users/me").status_code == 200
    assert created["id"] in [k["id"] for k in personal.ok("GET", "/api_keys")]
    assert personal.ok("DELETE", f"/api_keys/{created['id']}")["revoked"] is True
    assert other.get("/users/me").status_code == 401
    assert personal.ok("GET", "/auth")["auth_method"] == "api_key_user"
    assert free.ok("GET", "/auth")["auth_method"] == "api_key_org"
    assert any(r["default"] for r in free.ok("GET", "/regions")["regions"])


def test_transfer_needs_personal_key(free, org_ids):
    pid = free.create_project(name="t")["project"]["id"]
    r = free.post(f"/organizations/{org_ids['free']}/projects/transfer",
                  json={"destination_org_id": org_ids["paid"], "project_ids": [pid]})
    assert r.status_code == 403


def test_transfer_free_to_paid_moves_project_and_kills_scoped_key(personal, free, paid,
                                                                   client_for, org_ids):
    pid = free.create_project(name="up")["project"]["id"]
    scoped_key = free.ok("POST", f"/organizations/{org_ids['free']}/api_keys",
                         json={"key_name": "s", "project_id": pid})["key"]
    body = personal.ok("POST", f"/organizations/{org_ids['free']}/projects/transfer",
                       json={"destination_org_id": org_ids["paid"], "project_ids": [pid]})
    assert body == {}
    assert paid.ok("GET", f"/projects/{pid}")["project"]["org_id"] == org_ids["paid"]
    assert free.get(f"/projects/{pid}").status_code == 404
    assert client_for(scoped_key).get(f"/projects/{pid}").status_code == 404


def test_transfer_with_integration_is_422_with_projects(personal, free, emu, org_ids):
    pid = free.create_project(name="gh")["project"]["id"]
    emu.admin("POST", f"projects/{pid}/integration", {"integration": "github"})
    r = personal.post(f"/organizations/{org_ids['free']}/projects/transfer",
                      json={"destination_org_id": org_ids["paid"], "project_ids": [pid]})
    assert r.status_code == 422
    assert r.json() == {"projects": [{"id": pid, "integration": "github"}]}


def test_transfer_paid_to_free_over_limits_is_406_with_limits(personal, paid, org_ids):
    body = paid.create_project(name="big", default_endpoint_settings={
        "autoscaling_limit_max_cu": 8})
    pid = body["project"]["id"]
    r = personal.post(f"/organizations/{org_ids['paid']}/projects/transfer",
                      json={"destination_org_id": org_ids["free"], "project_ids": [pid]})
    assert r.status_code == 406
    names = {x["name"] for x in r.json()["limits"]}
    assert "max_autoscaling_limit" in names
    assert paid.get(f"/projects/{pid}").status_code == 200  # not moved


def test_transfer_unknown_project_is_404(personal, org_ids):
    r = personal.post(f"/organizations/{org_ids['free']}/projects/transfer",
                      json={"destination_org_id": org_ids["paid"], "project_ids": ["nope-1"]})
    assert r.status_code == 404


def test_transfer_request_accepted_by_other_org(free, paid, org_ids):
    pid = free.create_project(name="claim")["project"]["id"]
    tr = free.ok("POST", f"/projects/{pid}/transfer_requests", 201, json={"ttl_seconds": 60})
    assert tr["project_id"] == pid
    r = paid.put(f"/projects/{pid}/transfer_requests/{tr['id']}", json={})
    assert r.status_code == 204
    assert paid.ok("GET", f"/projects/{pid}")["project"]["org_id"] == org_ids["paid"]
