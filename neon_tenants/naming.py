"""Every name the fleet gives: Neon project names, Pulumi logical names, type tokens, URNs.

One module so the component, the automation layer, the preview and the events cannot
disagree (before, `COMPONENT_TYPE` was defined twice and a URN hand-built in the manager).

A resource's tenant is never parsed out of its name: `shop-branch-eu-project` is the
project of tenant `shop-branch-eu`, yet reads like a branch `eu-project` of tenant `shop`.
`tenant_of` reads the resource's PARENT instead, the component whose name is the tenant id
(issue 10 item 2). Imports no Pulumi.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

COMPONENT_TYPE = "neon-tenants:index:TenantDatabase"
DYNAMIC_PACKAGE = "pulumi-python:dynamic/neon"
PROJECT_TYPE = f"{DYNAMIC_PACKAGE}:NeonTenantProject"
QUOTA_TYPE = f"{DYNAMIC_PACKAGE}:Quota"
DEV_BRANCH_TYPE = f"{DYNAMIC_PACKAGE}:DevBranch"
SNAPSHOT_TYPE = f"{DYNAMIC_PACKAGE}:Snapshot"

ChildKind = Literal["project", "quota", "branch", "snapshot", "archive"]


def project_name(platform: str, tenant_id: str) -> str:
    """`<platform>-<tenant_id>`: no tier in the name, since a tier change is a transfer."""
    return f"{platform}-{tenant_id}"


def component_name(tenant_id: str) -> str:
    return tenant_id


def child_name(tenant_id: str, kind: ChildKind, item: str | None = None) -> str:
    """Logical name of a child: `<tenant>-project`, `-quota`, `-branch-<n>`, `-snapshot-<n>`."""
    if kind in ("branch", "snapshot"):
        if not item:
            raise ValueError(f"a {kind} child needs its name")
        return f"{tenant_id}-{kind}-{item}"
    return f"{tenant_id}-{kind}"


def child_label(tenant_id: str, name: str) -> str:
    """`project`, `branch-dev`, ... from a child's logical name whose tenant is KNOWN."""
    prefix = f"{tenant_id}-"
    return name[len(prefix):] if name.startswith(prefix) else name


def urn(stack: str, project: str, types: Iterable[str], name: str) -> str:
    """`urn:pulumi:<stack>::<project>::<parent types joined by $>::<name>`."""
    return f"urn:pulumi:{stack}::{project}::{'$'.join(types)}::{name}"


def component_urn(stack: str, project: str, tenant_id: str) -> str:
    return urn(stack, project, [COMPONENT_TYPE], component_name(tenant_id))


def project_urn(stack: str, project: str, tenant_id: str) -> str:
    return urn(stack, project, [COMPONENT_TYPE, PROJECT_TYPE], child_name(tenant_id, "project"))


def urn_parts(value: str) -> tuple[str, str]:
    """(qualified type, name) of a URN `urn:pulumi:stack::project::type::name`."""
    parts = value.split("::")
    if len(parts) < 4:
        return "", value
    return parts[2], "::".join(parts[3:])


def resource_type(value: str) -> str:
    """The resource's own type (the last of the qualified chain)."""
    return urn_parts(value)[0].split("$")[-1]


def is_component(value: str) -> bool:
    return resource_type(value) == COMPONENT_TYPE


def tenant_of(value: str, parent: str | None) -> str | None:
    """The tenant a resource belongs to: the component itself, or its parent component."""
    if is_component(value):
        return urn_parts(value)[1]
    if parent and is_component(parent):
        return urn_parts(parent)[1]
    return None


def tenants_in_state(resources: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """urn -> tenant for every resource of a stack state owned by a tenant, via `parent`
    (following the chain, so a grandchild is owned too)."""
    parents = {str(r.get("urn", "")): r.get("parent") for r in resources}
    out: dict[str, str] = {}
    for res_urn in parents:
        current: str | None = res_urn
        seen: set[str] = set()
        while current and current not in seen:
            seen.add(current)
            if is_component(current):
                out[res_urn] = urn_parts(current)[1]
                break
            current = parents.get(current)
    return out
