"""Contract: every response object carries what Neon always returns (issue #15).

The walker follows each response body and its schema in the spec side by side ($ref, allOf,
arrays) and fails when an object lacks a property the spec marks required, one its
`example` shows (except the few that only exist in some states, listed in CONTEXTUAL), or a
Neon default the emulator promises (ALWAYS: the blocks clients read without nil checks).
"""

from __future__ import annotations

from typing import Any

import pytest
from _defaults_walk import ALWAYS, response_schema, template, walk

from neon_emulator.spec import load_spec


class Walker:
    def __init__(self) -> None:
        self.missing: list[str] = []
        self.seen: set[str] = set()
        self.responses = 0

    def check(self, api: Any, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        body = api.ok(method, path, status, **kw)
        schema = response_schema(method, template(method, path), status)
        assert schema is not None
        walk(schema, body, f"{method} {path}", self.missing, self.seen)
        self.responses += 1
        return body


def test_contract_defaults_every_response_object_carries_neon_fields(free):
    w = Walker()
    created = w.check(free, "POST", "/projects", 201, json={"project": {}})
    pid = created["project"]["id"]
    free.wait(pid, created["operations"])
    main = created["branch"]["id"]
    w.check(free, "GET", "/projects")
    w.check(free, "GET", f"/projects/{pid}")
    upd = w.check(free, "PATCH", f"/projects/{pid}", json={"project": {"name": "renamed"}})
    free.wait(pid, upd["operations"])
    br = w.check(free, "POST", f"/projects/{pid}/branches", 201,
                 json={"endpoints": [{"type": "read_write"}]})
    free.wait(pid, br["operations"])
    w.check(free, "GET", f"/projects/{pid}/branches")
    w.check(free, "GET", f"/projects/{pid}/branches/{br['branch']['id']}")
    w.check(free, "GET", f"/projects/{pid}/endpoints")
    w.check(free, "GET", f"/projects/{pid}/endpoints/{br['endpoints'][0]['id']}")
    w.check(free, "GET", f"/projects/{pid}/branches/{main}/roles")
    w.check(free, "GET", f"/projects/{pid}/branches/{main}/roles/neondb_owner")
    w.check(free, "GET", f"/projects/{pid}/branches/{main}/databases")
    w.check(free, "GET", f"/projects/{pid}/branches/{main}/databases/neondb")
    w.check(free, "GET", f"/projects/{pid}/operations")
    w.check(free, "GET", f"/projects/{pid}/operations/{created['operations'][0]['id']}")
    assert w.missing == []
    assert {"Project", "ProjectListItem", "ProjectSettingsData", "AllowedIps",
            "DefaultEndpointSettings", "Branch", "Endpoint", "Role", "Database",
            "Operation"} <= w.seen


def test_contract_defaults_empty_project_has_neon_settings_everywhere(free):
    created = free.create_project()
    pid = created["project"]["id"]
    listed = next(p for p in free.ok("GET", "/projects")["projects"] if p["id"] == pid)
    got = free.ok("GET", f"/projects/{pid}")["project"]
    updated = free.ok("PATCH", f"/projects/{pid}", json={"project": {"name": "x"}})["project"]
    for project in (created["project"], listed, got, updated):
        s = project["settings"]
        assert s["allowed_ips"] == {"ips": [], "protected_branches_only": False}
        assert s["enable_logical_replication"] is False
        assert s["block_public_connections"] is False and s["hipaa"] is False
        assert s["preload_libraries"] == {"use_defaults": True, "enabled_libraries": []}
        assert set(s["maintenance_window"]) == {"weekdays", "start_time", "end_time"}
        des = project["default_endpoint_settings"]
        assert des["autoscaling_limit_min_cu"] == 0.25
        assert des["suspend_timeout_seconds"] == 0


def test_contract_defaults_stored_values_win_over_defaults(free):
    created = free.create_project(settings={"allowed_ips": {"ips": ["10.0.0.1"]},
                                            "hipaa": True})
    pid = created["project"]["id"]
    s = free.ok("GET", f"/projects/{pid}")["project"]["settings"]
    assert s["allowed_ips"] == {"ips": ["10.0.0.1"], "protected_branches_only": False}
    assert s["hipaa"] is True


@pytest.mark.parametrize("name", sorted(ALWAYS))
def test_contract_defaults_always_table_names_real_spec_properties(name):
    props = load_spec()["components"]["schemas"][name].get("properties", {})
    assert ALWAYS[name] <= set(props)
