"""Branches: create variants, list/count/sort/paginate, update, delete, restore, default,
schema diff and expiry."""

from __future__ import annotations

import pytest


@pytest.fixture
def project(free):
    return free.create_project(name="br")


def _branch(api, pid, wait=True, **kw):
    body = api.ok("POST", f"/projects/{pid}/branches", 201, json=kw)
    if wait:
        api.wait(pid, body["operations"])
    return body


def test_create_branch_from_default_inherits_roles_and_databases(free, project):
    pid = project["project"]["id"]
    body = _branch(free, pid, branch={"name": "dev"}, endpoints=[{"type": "read_write"}])
    b = body["branch"]
    assert b["parent_id"] == project["branch"]["id"]
    assert b["parent_lsn"]
    assert [r["name"] for r in body["roles"]] == ["neondb_owner"]
    assert [d["name"] for d in body["databases"]] == ["neondb"]
    assert body["connection_uris"][0]["connection_uri"].startswith("postgresql://neondb_owner:")
    got = free.ok("GET", f"/projects/{pid}/branches/{b['id']}")
    assert got["branch"]["current_state"] == "ready"
    assert got["annotation"]["object"]["id"] == b["id"]
    eps = free.ok("GET", f"/projects/{pid}/branches/{b['id']}/endpoints")["endpoints"]
    assert len(eps) == 1 and eps[0]["branch_id"] == b["id"]


def test_create_branch_without_endpoints_creates_no_compute(free, project):
    pid = project["project"]["id"]
    body = _branch(free, pid, branch={"name": "nocompute"})
    assert body["endpoints"] == [] and "connection_uris" not in body
    assert [o["action"] for o in body["operations"]] == ["create_branch"]


def test_create_branch_at_timestamp_lsn_schema_only_and_expiry(free, project):
    pid = project["project"]["id"]
    ts = _branch(free, pid, branch={"name": "at-ts", "parent_timestamp": "2030-01-01T00:00:00Z"})
    assert ts["branch"]["parent_timestamp"] == "2030-01-01T00:00:00Z"
    lsn = _branch(free, pid, branch={"name": "at-lsn", "parent_lsn": "0/1000"})
    assert lsn["branch"]["parent_lsn"] == "0/1000"
    so = _branch(free, pid, branch={"name": "schema", "init_source": "schema-only"})
    assert so["branch"]["init_source"] == "schema-only" and "parent_id" not in so["branch"]
    exp = _branch(free, pid, branch={"name": "tmp", "expires_at": "2031-01-01T00:00:00Z"})
    assert exp["branch"]["expires_at"] == "2031-01-01T00:00:00Z"
    both = free.post(f"/projects/{pid}/branches", json={"branch": {
        "parent_lsn": "0/1", "parent_timestamp": "2030-01-01T00:00:00Z"}})
    assert both.status_code == 400


def test_list_branches_sorts_searches_and_paginates(free, project):
    pid = project["project"]["id"]
    for name in ("b-one", "b-two", "b-three"):
        _branch(free, pid, branch={"name": name})
    names = [b["name"] for b in free.ok("GET", f"/projects/{pid}/branches",
                                       params={"sort_by": "name", "sort_order": "asc"})["branches"]]
    assert names == sorted(names) and len(names) == 4
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "sort_by": "created_at"} | ({"cursor": cursor} if cursor else {})
        page = free.ok("GET", f"/projects/{pid}/branches", params=params)
        seen += [b["id"] for b in page["branches"]]
        cursor = page["pagination"].get("next")
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4
    assert free.ok("GET", f"/projects/{pid}/branches/count",
                   params={"search": "b-t"})["count"] == 2


def test_update_branch_name_protected_and_clear_expiry(free, project):
    pid = project["project"]["id"]
    b = _branch(free, pid, branch={"name": "x", "expires_at": "2031-01-01T00:00:00Z"})["branch"]
    body = free.ok("PATCH", f"/projects/{pid}/branches/{b['id']}",
                   json={"branch": {"name": "y", "protected": True, "expires_at": None}})
    assert body["branch"]["name"] == "y" and body["branch"]["protected"] is True
    assert "expires_at" not in body["branch"]


def test_delete_branch_rules_and_204_when_gone(free, project):
    pid = project["project"]["id"]
    main = project["branch"]["id"]
    assert free.delete(f"/projects/{pid}/branches/{main}").status_code == 409
    parent = _branch(free, pid, branch={"name": "parent"})["branch"]
    child = _branch(free, pid, branch={"name": "child", "parent_id": parent["id"]})["branch"]
    assert free.delete(f"/projects/{pid}/branches/{parent['id']}").status_code == 409
    body = free.ok("DELETE", f"/projects/{pid}/branches/{child['id']}")
    assert body["branch"]["id"] == child["id"]
    free.wait(pid, body["operations"])
    assert free.delete(f"/projects/{pid}/branches/{child['id']}").status_code == 204
    assert free.get(f"/projects/{pid}/branches/{child['id']}").status_code == 404


def test_restore_to_parent_resets_and_self_restore_needs_preserve(free, project):
    pid = project["project"]["id"]
    main = project["branch"]["id"]
    dev = _branch(free, pid, branch={"name": "dev"})["branch"]
    body = free.ok("POST", f"/projects/{pid}/branches/{dev['id']}/restore",
                   json={"source_branch_id": main})
    free.wait(pid, body["operations"])
    got = free.ok("GET", f"/projects/{pid}/branches/{dev['id']}")["branch"]
    assert got["current_state"] == "ready" and got["last_reset_at"]
    r = free.post(f"/projects/{pid}/branches/{main}/restore", json={"source_branch_id": main})
    assert r.status_code == 400
    r = free.post(f"/projects/{pid}/branches/{main}/restore",
                  json={"source_branch_id": main, "source_timestamp": "2030-01-01T00:00:00Z"})
    assert r.status_code == 400  # preserve_under_name required
    body = free.ok("POST", f"/projects/{pid}/branches/{main}/restore",
                   json={"source_branch_id": main, "source_timestamp": "2030-01-01T00:00:00Z",
                         "preserve_under_name": "main-before"})
    free.wait(pid, body["operations"])
    branches = free.ok("GET", f"/projects/{pid}/branches")["branches"]
    preserved = next(b for b in branches if b["name"] == "main-before")
    moved = free.ok("GET", f"/projects/{pid}/branches/{dev['id']}")["branch"]
    assert moved["parent_id"] == preserved["id"]


def test_set_as_default_moves_the_flag(free, project):
    pid = project["project"]["id"]
    dev = _branch(free, pid, branch={"name": "dev"})["branch"]
    body = free.ok("POST", f"/projects/{pid}/branches/{dev['id']}/set_as_default")
    assert body["branch"]["default"] is True
    old = free.ok("GET", f"/projects/{pid}/branches/{project['branch']['id']}")["branch"]
    assert old["default"] is False


def test_schema_and_compare_schema_answer_with_the_spec_shapes(free, project):
    pid = project["project"]["id"]
    dev = _branch(free, pid, branch={"name": "dev"})["branch"]
    assert free.ok("GET", f"/projects/{pid}/branches/{dev['id']}/schema",
                   params={"db_name": "neondb"}) == {"sql": ""}
    assert free.ok("GET", f"/projects/{pid}/branches/{dev['id']}/compare_schema",
                   params={"db_name": "neondb"}) == {"diff": ""}
    assert free.get(f"/projects/{pid}/branches/{dev['id']}/schema",
                    params={"db_name": "nope"}).status_code == 404


def test_expired_branch_is_deleted_by_background_job(free, project, emu):
    pid = project["project"]["id"]
    b = _branch(free, pid, branch={"name": "ttl", "expires_at": "2020-01-01T00:00:00Z"})["branch"]
    keep = _branch(free, pid, branch={"name": "keep"})["branch"]
    assert emu.admin("POST", "expire")["deleted_branches"] == 1
    assert free.get(f"/projects/{pid}/branches/{b['id']}").status_code == 404
    assert free.get(f"/projects/{pid}/branches/{keep['id']}").status_code == 200


def test_clock_advance_makes_future_expiry_due(free, project, emu):
    pid = project["project"]["id"]
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    b = _branch(free, pid, branch={"name": "tomorrow", "expires_at": soon})["branch"]
    assert emu.admin("POST", "expire")["deleted_branches"] == 0
    emu.admin("POST", "clock", {"advance_seconds": 2 * 86400})
    assert emu.admin("POST", "expire")["deleted_branches"] == 1
    assert free.get(f"/projects/{pid}/branches/{b['id']}").status_code == 404


def test_points_older_than_history_retention_are_refused_everywhere(free, project):
    """Branch at, restore to and snapshot at a timestamp all stop at the retention window."""
    from datetime import UTC, datetime, timedelta

    pid, main = project["project"]["id"], project["branch"]["id"]
    assert project["project"]["history_retention_seconds"] == 86400
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused = [
        free.post(f"/projects/{pid}/branches",
                  json={"branch": {"name": "too-old", "parent_timestamp": old}}),
        free.post(f"/projects/{pid}/branches/{main}/restore",
                  json={"source_branch_id": main, "source_timestamp": old,
                        "preserve_under_name": "pre-undo"}),
        free.post(f"/projects/{pid}/branches/{main}/snapshot", params={"timestamp": old}),
    ]
    for resp in refused:
        assert resp.status_code == 422, resp.text
        body = resp.json()
        assert body["code"] == "HISTORY_RETENTION_EXCEEDED"
        assert "86400" in body["message"]
    names = [b["name"] for b in free.ok("GET", f"/projects/{pid}/branches")["branches"]]
    assert "too-old" not in names and "pre-undo" not in names
    ok = _branch(free, pid, branch={"name": "recent", "parent_timestamp": recent})
    assert ok["branch"]["parent_timestamp"] == recent
