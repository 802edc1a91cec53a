"""Contract: every response object carries what Neon always returns (issue #15).

The walker follows each response body and its schema in the spec side by side ($ref, allOf,
arrays) and fails when an object lacks a property the spec marks required, one its
`example` shows (except the few that only exist in some states, listed in CONTEXTUAL), or a
Neon default the emulator promises (ALWAYS: the blocks clients read without nil checks).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from neon_emulator.spec import load_spec

# Example keys that Neon shows only in some states: a root branch has no parent, an
# endpoint has no name unless given one and a pending_state only while it transitions,
# project-level operations name no branch or endpoint.
CONTEXTUAL = {
    "Branch": {"parent_id", "parent_lsn"},
    "Endpoint": {"name", "pending_state"},
    "Operation": {"branch_id", "endpoint_id"},
}
ALWAYS = {
    "ProjectSettingsData": {"allowed_ips", "enable_logical_replication", "maintenance_window",
                            "block_public_connections", "block_vpc_connections", "hipaa",
                            "preload_libraries"},
    "AllowedIps": {"ips", "protected_branches_only"},
    "DefaultEndpointSettings": {"autoscaling_limit_min_cu", "autoscaling_limit_max_cu",
                                "suspend_timeout_seconds"},
    "Project": {"settings", "default_endpoint_settings", "org_id", "owner"},
    "ProjectListItem": {"settings", "default_endpoint_settings", "org_id"},
    "EndpointSettingsData": {"pg_settings"},
}


def _resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, load_spec()["components"]["schemas"][name]


def _expected(name: str | None, schema: dict[str, Any]) -> set[str]:
    keys = set(schema.get("required", []))
    example = schema.get("example")
    if isinstance(example, dict) and "additionalProperties" not in schema:  # maps: free keys
        keys |= set(example) - CONTEXTUAL.get(name or "", set())
    return keys | ALWAYS.get(name or "", set())


def walk(schema: dict[str, Any], value: Any, where: str, missing: list[str],
         seen: set[str]) -> None:
    name, schema = _resolve(schema)
    if name:
        seen.add(name)
    for part in schema.get("allOf", []):
        walk(part, value, where, missing, seen)
    if isinstance(value, dict):
        for key in sorted(_expected(name, schema) - set(value)):
            missing.append(f"{where}.{key} ({name or 'inline'})")
        for key, sub in (schema.get("properties") or {}).items():
            if key in value and value[key] is not None:
                walk(sub, value[key], f"{where}.{key}", missing, seen)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            walk(schema["items"], item, f"{where}[{i}]", missing, seen)


def _template(method: str, path: str) -> str:
    for template, item in load_spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if method.lower() in item and re.match(pattern, path):
            return template
    raise AssertionError(f"{method} {path} is not a spec operation")


class Walker:
    def __init__(self) -> None:
        self.missing: list[str] = []
        self.seen: set[str] = set()
        self.responses = 0

    def check(self, api: Any, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        body = api.ok(method, path, status, **kw)
        op = load_spec()["paths"][_template(method, path)][method.lower()]
        response = op["responses"][str(status)]
        if "$ref" in response:
            response = load_spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        schema = response["content"]["application/json"]["schema"]
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
