"""Contract: request bodies are validated against the spec's schemas before anything is stored
(issue #15): types, enums, patterns, array item types and bounds, each a 400 GeneralError that
names the field, with the project unchanged afterwards."""

from __future__ import annotations

from typing import Any

import pytest


def _projects(api: Any) -> list[str]:
    return sorted(p["id"] for p in api.ok("GET", "/projects", params={"limit": 400})["projects"])


def test_contract_validation_malformed_preload_libraries_refused_nothing_stored(free):
    before = _projects(free)
    r = free.post("/projects", json={"project": {"name": "bad", "settings": {
        "preload_libraries": {"enabled_libraries": [{"name": "timescaledb"}]}}}})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "BAD_REQUEST" and body["request_id"]
    assert "settings.preload_libraries.enabled_libraries.0" in body["message"]
    assert "string" in body["message"]
    assert _projects(free) == before


CREATE_CASES = [
    ({"pg_version": "17"}, "project.pg_version: must be of type integer"),
    ({"pg_version": 13}, "project.pg_version: minimum is 14"),
    ({"settings": {"audit_log_level": "loud"}},
     "project.settings.audit_log_level: must be one of base, extended, full"),
    ({"settings": {"allowed_ips": {"ips": [1]}}}, "project.settings.allowed_ips.ips.0"),
    ({"history_retention_seconds": -1}, "project.history_retention_seconds: minimum is 0"),
    ({"name": ""}, "project.name: minLength is 1"),
    ({"settings": {"quota": {"active_time_seconds": "lots"}}},
     "project.settings.quota.active_time_seconds: must be of type integer"),
    ({"default_endpoint_settings": {"suspend_timeout_seconds": 604_801}},
     "project.default_endpoint_settings.suspend_timeout_seconds: maximum is 604800"),
]


@pytest.mark.parametrize(("project", "message"), CREATE_CASES,
                         ids=[m.split(":")[0] for _, m in CREATE_CASES])
def test_contract_validation_create_project_refused(free, project, message):
    before = _projects(free)
    r = free.post("/projects", json={"project": project})
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert _projects(free) == before


def test_contract_validation_update_and_nested_routes_refused_unchanged(free, org_ids):
    created = free.create_project(name="keep")
    pid, bid = created["project"]["id"], created["branch"]["id"]
    eid = created["endpoints"][0]["id"]
    project_before = free.ok("GET", f"/projects/{pid}")["project"]
    branches_before = free.ok("GET", f"/projects/{pid}/branches")["branches"]
    endpoint_before = free.ok("GET", f"/projects/{pid}/endpoints/{eid}")["endpoint"]
    ops_before = free.ok("GET", f"/projects/{pid}/operations")["operations"]
    cases = [
        ("PATCH", f"/projects/{pid}", {"project": {"name": 5}}, "project.name"),
        ("PATCH", f"/projects/{pid}", {"project": {"settings": {"hipaa": "yes"}}},
         "project.settings.hipaa: must be of type boolean"),
        ("POST", f"/projects/{pid}/branches", {"endpoints": [{"type": "bogus"}]},
         "endpoints.0.type: must be one of"),
        ("POST", f"/projects/{pid}/branches", {"branch": {"protected": "no"}},
         "branch.protected"),
        ("PATCH", f"/projects/{pid}/endpoints/{eid}",
         {"endpoint": {"suspend_timeout_seconds": 10_000_000}},
         "endpoint.suspend_timeout_seconds: maximum is 604800"),
        ("POST", f"/projects/{pid}/branches/{bid}/roles", {"role": {}}, "'name' is required"),
        ("POST", f"/organizations/{org_ids['free']}/projects/transfer",
         {"destination_org_id": "Not An Id!", "project_ids": [pid]},
         "destination_org_id: must match"),
        ("POST", f"/organizations/{org_ids['free']}/projects/transfer",
         {"destination_org_id": org_ids["paid"], "project_ids": []},
         "project_ids: minItems is 1"),
    ]
    for method, path, body, message in cases:
        r = free.request(method, path, json=body)
        assert r.status_code == 400, (method, path, r.text)
        assert message in r.json()["message"], (method, path, r.json())
    r = free.request("PATCH", f"/projects/{pid}", content=b"{not json",
                     headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    assert free.ok("GET", f"/projects/{pid}")["project"] == project_before
    assert free.ok("GET", f"/projects/{pid}/branches")["branches"] == branches_before
    assert free.ok("GET", f"/projects/{pid}/endpoints/{eid}")["endpoint"] == endpoint_before
    assert free.ok("GET", f"/projects/{pid}/operations")["operations"] == ops_before


def test_contract_left_out_operation_answers_general_error_shape(free):
    """A spec operation the emulator does not emulate (LEFT_OUT) answers in the spec's error
    shape for that route (GeneralError, validated by the client's spec check)."""
    created = free.create_project(name="left-out")
    r = free.get(f"/projects/{created['project']['id']}/advisors")
    assert r.status_code == 404
    body = r.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == "NOT_FOUND"
