"""Organization limits from the guide's table: each one, on the org that has it."""

from __future__ import annotations

import pytest

from neon_emulator.testing import EmulatorProcess


@pytest.mark.parametrize(
    "org,project,status",
    [
        ("free", {"default_endpoint_settings": {"autoscaling_limit_max_cu": 4}}, 422),
        ("paid", {"default_endpoint_settings": {"autoscaling_limit_max_cu": 16}}, 201),
        ("paid", {"default_endpoint_settings": {"autoscaling_limit_max_cu": 17}}, 422),
        ("free", {"default_endpoint_settings": {"autoscaling_limit_min_cu": 1,
                                                "autoscaling_limit_max_cu": 0.5}}, 400),
        ("free", {"history_retention_seconds": 86400}, 201),
        ("free", {"history_retention_seconds": 172800}, 422),
        ("paid", {"history_retention_seconds": 604800}, 201),
        ("paid", {"history_retention_seconds": 604801}, 422),
        ("paid", {"history_retention_seconds": 2592001}, 400),
        ("free", {"default_endpoint_settings": {"suspend_timeout_seconds": 120}}, 422),
        ("paid", {"default_endpoint_settings": {"suspend_timeout_seconds": 120}}, 201),
        ("free", {"default_endpoint_settings": {"suspend_timeout_seconds": -1}}, 422),
        ("paid", {"default_endpoint_settings": {"suspend_timeout_seconds": -1}}, 201),
        ("free", {"default_endpoint_settings": {"suspend_timeout_seconds": 0}}, 201),
        ("free", {"pg_version": 13}, 400),
    ],
)
def test_project_create_limits_table(request, org, project, status):
    api = request.getfixturevalue(org)
    r = api.post("/projects", json={"project": project})
    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["code"] == "LIMIT_EXCEEDED"


@pytest.mark.parametrize("org,cap", [("free", 10), ("paid", None)])
def test_branches_per_project_limit(request, org, cap):
    api = request.getfixturevalue(org)
    pid = api.create_project(name="b")["project"]["id"]
    for _ in range(9):
        api.wait(pid, api.ok("POST", f"/projects/{pid}/branches", 201, json={})["operations"])
    r = api.post(f"/projects/{pid}/branches", json={})
    if cap == 10:
        assert r.status_code == 422 and "branches" in r.json()["message"]
        assert api.ok("GET", f"/projects/{pid}/branches/count")["count"] == 10
    else:
        assert r.status_code == 201


@pytest.mark.parametrize("org,cap", [("free", 1), ("paid", 10)])
def test_snapshots_per_project_limit(request, org, cap):
    api = request.getfixturevalue(org)
    body = api.create_project(name="s")
    pid, bid = body["project"]["id"], body["branch"]["id"]
    for _ in range(cap):
        api.wait(pid, api.ok("POST", f"/projects/{pid}/branches/{bid}/snapshot")["operations"])
    r = api.post(f"/projects/{pid}/branches/{bid}/snapshot")
    assert r.status_code == 422 and "snapshots" in r.json()["message"]


def test_read_only_and_read_write_endpoint_limits(paid):
    body = paid.create_project(name="e")
    pid, bid = body["project"]["id"], body["branch"]["id"]
    ro = {"endpoint": {"branch_id": bid, "type": "read_only"}}
    for _ in range(3):
        paid.wait(pid, paid.ok("POST", f"/projects/{pid}/endpoints", 201, json=ro)["operations"])
    assert paid.post(f"/projects/{pid}/endpoints", json=ro).status_code == 422
    rw = {"endpoint": {"branch_id": bid, "type": "read_write"}}
    r = paid.post(f"/projects/{pid}/endpoints", json=rw)
    assert r.status_code == 422 and "read-write" in r.json()["message"]


def test_twenty_active_endpoints_per_project_and_no_partial_branch(paid):
    pid = paid.create_project(name="many")["project"]["id"]
    with_ep = {"endpoints": [{"type": "read_write"}]}
    for _ in range(19):
        paid.wait(pid, paid.ok("POST", f"/projects/{pid}/branches", 201,
                               json=with_ep)["operations"])
    assert len(paid.ok("GET", f"/projects/{pid}/endpoints")["endpoints"]) == 20
    r = paid.post(f"/projects/{pid}/branches", json=with_ep)
    assert r.status_code == 422
    assert paid.ok("GET", f"/projects/{pid}/branches/count")["count"] == 20  # nothing half-made


def test_projects_per_org_is_configurable(tmp_path, api_factory):
    config = {"compute": "metadata", "op_duration_ms": 0, "rate_limits": {"enabled": False},
              "orgs": [{"alias": "free", "limits": {"max_projects": 2}}]}
    with EmulatorProcess(tmp_path / "e", config=config) as emu:
        c = api_factory(emu)
        assert [c.post("/projects", json={"project": {}}).status_code
                for _ in range(3)] == [201, 201, 422]
        assert set(emu.credentials["orgs"]) == {"free"}
