"""Consumption v2, Neon Auth and the Data API (real routes, spec shapes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def _window(hours: int = 3) -> dict[str, str]:
    now = datetime.now(UTC)
    fmt = "%Y-%m-%dT%H:00:00Z"
    return {"from": (now - timedelta(hours=hours)).strftime(fmt),
            "to": (now + timedelta(hours=1)).strftime(fmt), "granularity": "hourly"}


def test_consumption_v2_projects_lists_org_projects_with_metrics(paid, org_ids):
    ids = [paid.create_project(name=f"c{i}")["project"]["id"] for i in range(3)]
    params = _window() | {"org_id": org_ids["paid"],
                          "metrics": "compute_unit_seconds,public_network_transfer_bytes",
                          "limit": 2}
    page = paid.ok("GET", "/consumption_history/v2/projects", params=params)
    assert [p["project_id"] for p in page["projects"]] == ids[::-1][:2]  # newest first
    period = page["projects"][0]["periods"][0]
    frame = period["consumption"][0]
    assert {m["metric_name"] for m in frame["metrics"]} == {
        "compute_unit_seconds", "public_network_transfer_bytes"}
    nxt = paid.ok("GET", "/consumption_history/v2/projects",
                  params=params | {"cursor": page["pagination"]["cursor"]})
    assert [p["project_id"] for p in nxt["projects"]][:1] == [ids[0]]


def test_consumption_v2_errors(free, paid, org_ids):
    base = _window() | {"org_id": org_ids["paid"], "metrics": "compute_unit_seconds"}
    assert free.get("/consumption_history/v2/projects", params=base).status_code == 404
    old = base | {"from": "2020-01-01T00:00:00Z"}
    assert paid.get("/consumption_history/v2/projects", params=old).status_code == 406
    bad = base | {"metrics": "bogus"}
    assert paid.get("/consumption_history/v2/projects", params=bad).status_code == 400


def test_consumption_v2_is_403_for_plans_it_does_not_serve(free, org_ids):
    """CONTRACT.md section 6: v2 serves Launch, Scale, Agent, Business, Enterprise; the
    emulator's free org is on free_v3."""
    params = _window() | {"org_id": org_ids["free"], "metrics": "compute_unit_seconds"}
    r = free.get("/consumption_history/v2/projects", params=params)
    assert r.status_code == 403 and r.json()["code"] == "PLAN_NOT_ELIGIBLE"
    params["project_ids"] = free.create_project(name="c403")["project"]["id"]
    assert free.get("/consumption_history/v2/branches", params=params).status_code == 403


def test_consumption_v2_branches_requires_projects(paid, org_ids):
    body = paid.create_project(name="cb")
    pid = body["project"]["id"]
    params = _window() | {"org_id": org_ids["paid"], "metrics": "compute_unit_seconds",
                          "project_ids": pid}
    out = paid.ok("GET", "/consumption_history/v2/branches", params=params)
    assert [(b["project_id"], b["branch_id"]) for b in out["branches"]] == [
        (pid, body["branch"]["id"])]
    bad = params | {"metrics": "extra_branches_month"}
    assert paid.get("/consumption_history/v2/branches", params=bad).status_code == 400


@pytest.fixture
def branch(free):
    body = free.create_project(name="auth")
    return body["project"]["id"], body["branch"]["id"]


def test_neon_auth_create_get_delete(free, branch):
    pid, bid = branch
    base = f"/projects/{pid}/branches/{bid}/auth"
    created = free.ok("POST", base, 201, json={"auth_provider": "better_auth"})
    assert created["pub_client_key"] != created["secret_server_key"]
    assert created["schema_name"] == "neon_auth"
    assert free.post(base, json={"auth_provider": "better_auth"}).status_code == 409
    got = free.ok("GET", base)
    assert got["branch_id"] == bid and got["db_name"] == "neondb"
    free.ok("DELETE", base, json={"delete_data": True})
    assert free.get(base).status_code == 404


def test_data_api_post_get_patch_delete(free, branch):
    pid, bid = branch
    base = f"/projects/{pid}/branches/{bid}/data-api/neondb"
    url = free.ok("POST", base, 201, json={"auth_provider": "neon_auth"})["url"]
    got = free.ok("GET", base)
    assert got["url"] == url and got["settings"]["db_schemas"] == ["public"]
    assert free.ok("PATCH", base, 201, json={"settings": {"db_max_rows": 100}}) == {}
    assert free.ok("GET", base)["settings"]["db_max_rows"] == 100
    assert free.ok("DELETE", base) == {}
    assert free.get(base).status_code == 404
    assert free.post(f"/projects/{pid}/branches/{bid}/data-api/nodb").status_code == 404
