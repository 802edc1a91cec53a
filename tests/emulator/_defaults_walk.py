"""Walk a response body and its spec schema side by side; collect the properties Neon always
returns that are missing (tests/emulator/test_contract_defaults.py, and the schemathesis
check that applies it to every mounted operation)."""

from __future__ import annotations

import re
from typing import Any

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


def template(method: str, path: str) -> str:
    for template, item in load_spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if method.lower() in item and re.match(pattern, path):
            return template
    raise AssertionError(f"{method} {path} is not a spec operation")




def response_schema(method: str, template_path: str, status: int) -> dict[str, Any] | None:
    op = load_spec()["paths"][template_path][method.lower()]
    response = op["responses"].get(str(status)) or op["responses"].get("default")
    if response is None:
        return None
    if "$ref" in response:
        response = load_spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema: dict[str, Any] | None = (response.get("content") or {}).get(
        "application/json", {}).get("schema")
    return schema
