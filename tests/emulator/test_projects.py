"""Projects: default world, create/get/list/update/delete/recover, connection URIs."""

from __future__ import annotations

import json
import re

URI = re.compile(r"^postgresql://neondb_owner:(npg_\w+)@(127\.1\.\d+\.\d+)/neondb"
                 r"\?sslmode=require&channel_binding=require$")


def test_first_start_writes_credentials_for_free_and_paid_orgs(emu):
    creds = json.loads(emu.credentials_file.read_text())
    assert set(creds) == {"personal_api_key", "orgs"}
    assert set(creds["orgs"]) == {"free", "paid"}
    assert creds["orgs"]["free"]["id"] != creds["orgs"]["paid"]["id"]
    assert len({creds["personal_api_key"], creds["orgs"]["free"]["api_key"],
                creds["orgs"]["paid"]["api_key"]}) == 3


def test_create_project_contract_returns_main_branch_neondb_and_rw_endpoint(free, org_ids):
    body = free.ok("POST", "/projects", 201, json={"project": {"name": "acme"}})
    assert body["project"]["name"] == "acme"
    assert body["project"]["org_id"] == org_ids["free"]
    assert body["branch"]["name"] == "main" and body["branch"]["default"] is True
    assert body["branch"]["current_state"] == "init"
    assert [d["name"] for d in body["databases"]] == ["neondb"]
    assert [r["name"] for r in body["roles"]] == ["neondb_owner"]
    assert body["roles"][0]["password"].startswith("npg_")
    (ep,) = body["endpoints"]
    assert ep["type"] == "read_write" and ep["host"].startswith("127.1.")
    (uri,) = body["connection_uris"]
    m = URI.match(uri["connection_uri"])
    assert m, uri["connection_uri"]
    assert uri["connection_parameters"]["pooler_host"].startswith("127.2.")
    assert {o["action"] for o in body["operations"]} == {"create_timeline", "start_compute"}
    pid = body["project"]["id"]
    done = free.wait(pid, body["operations"])
    assert {o["status"] for o in done} == {"finished"}
    br = free.ok("GET", f"/projects/{pid}/branches/{body['branch']['id']}")["branch"]
    assert br["current_state"] == "ready"
    ep2 = free.ok("GET", f"/projects/{pid}/endpoints/{ep['id']}")["endpoint"]
    assert ep2["current_state"] == "active"


def test_create_project_with_personal_key_needs_org_id(personal, org_ids):
    r = personal.post("/projects", json={"project": {"name": "x"}})
    assert r.status_code == 400
    body = personal.ok("POST", "/projects", 201,
                       json={"project": {"name": "x", "org_id": org_ids["paid"]}})
    assert body["project"]["org_id"] == org_ids["paid"]


def test_list_projects_paginates_with_cursor_and_search(free):
    ids = [free.create_project(name=f"tenant-{i}")["project"]["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = free.ok("GET", "/projects", params=params)
        if not page["projects"]:
            break
        seen += [p["id"] for p in page["projects"]]
        cursor = page["pagination"]["cursor"]
    assert sorted(seen) == sorted(ids)
    found = free.ok("GET", "/projects", params={"search": "tenant-3"})["projects"]
    assert [p["name"] for p in found] == ["tenant-3"]


def test_update_project_name_settings_quota(free, emu):
    pid = free.create_project(name="old")["project"]["id"]
    quota = {"active_time_seconds": 3600, "logical_size_bytes": 1 << 20}
    body = free.ok("PATCH", f"/projects/{pid}",
                   json={"project": {"name": "new", "settings": {"quota": quota}}})
    assert body["project"]["name"] == "new"
    assert body["project"]["settings"]["quota"] == quota
    free.wait(pid, body["operations"])
    got = free.ok("GET", f"/projects/{pid}")["project"]
    assert got["settings"]["quota"] == quota
    assert got["branch_logical_size_limit_bytes"] == 1 << 20
    passed = emu.admin("GET", f"projects/{pid}/quota")
    assert passed["active_time_seconds"] == 3600 and passed["compute_time_seconds"] == 0


def test_delete_is_soft_and_recover_restores(free):
    pid = free.create_project(name="gone")["project"]["id"]
    free.ok("DELETE", f"/projects/{pid}")
    assert free.get(f"/projects/{pid}").status_code == 404
    listed = free.ok("GET", "/projects", params={"recoverable": "true"})["projects"]
    assert [p["id"] for p in listed] == [pid]
    assert listed[0]["deleted_at"] < listed[0]["recoverable_until"]
    rec = free.ok("POST", f"/projects/{pid}/recover")
    assert rec["project"]["id"] == pid and rec["branches"]
    assert free.ok("GET", f"/projects/{pid}")["project"]["name"] == "gone"


def test_connection_uri_direct_and_pooled(free):
    body = free.create_project(name="uri")
    pid = body["project"]["id"]
    password = body["roles"][0]["password"]
    params = {"database_name": "neondb", "role_name": "neondb_owner"}
    direct = free.ok("GET", f"/projects/{pid}/connection_uri", params=params)["uri"]
    pooled = free.ok("GET", f"/projects/{pid}/connection_uri",
                     params=params | {"pooled": "true"})["uri"]
    assert password in direct and "@127.1." in direct
    assert "@127.2." in pooled
    assert pooled.endswith("/neondb?sslmode=require&channel_binding=require")
    missing = free.get(f"/projects/{pid}/connection_uri",
                       params={"database_name": "nope", "role_name": "neondb_owner"})
    assert missing.status_code == 404


def test_error_body_is_general_error_echoing_request_id(free):
    r = free.get("/projects/does-not-exist", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 404
    assert r.json()["request_id"] == "req-123"
    assert r.json()["code"] and r.json()["message"]


def test_unknown_key_is_401(client_for):
    r = client_for("not-a-key").get("/projects")
    assert r.status_code == 401
