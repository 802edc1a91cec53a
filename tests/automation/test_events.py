"""Resource URNs map to tenants through their parent component; engine events reduce to
typed ResourceSteps."""

from __future__ import annotations

from typing import Any

from pulumi.automation import EngineEvent

from neon_tenants.automation.events import ResourceStep, from_engine_event
from neon_tenants.naming import (
    COMPONENT_TYPE,
    DEV_BRANCH_TYPE,
    PROJECT_TYPE,
    QUOTA_TYPE,
    child_name,
    component_urn,
    tenant_of,
    tenants_in_state,
    urn,
)

BASE = "urn:pulumi:free-00::neon-tenants::"


def child(tenant: str, rtype: str, name: str) -> str:
    return urn("free-00", "neon-tenants", [COMPONENT_TYPE, rtype], name)


def test_tenant_of_reads_the_parent_component_not_the_name() -> None:
    shop = component_urn("free-00", "neon-tenants", "shop")
    shop_eu = component_urn("free-00", "neon-tenants", "shop-branch-eu")
    # `shop-branch-eu-project` reads like branch `eu-project` of `shop`: the parent decides
    eu_project = child("shop-branch-eu", PROJECT_TYPE, child_name("shop-branch-eu", "project"))
    assert tenant_of(eu_project, shop_eu) == "shop-branch-eu"
    branch = child("shop", DEV_BRANCH_TYPE, child_name("shop", "branch", "eu-project"))
    assert tenant_of(branch, shop) == "shop"
    assert tenant_of(shop, None) == "shop"
    assert tenant_of(eu_project, None) is None  # no parent known: no guess from the name


def test_tenants_in_state_follow_parents() -> None:
    resources: list[dict[str, Any]] = []
    for tenant in ("shop", "shop-branch-eu", "a-project", "a"):
        comp = component_urn("free-00", "neon-tenants", tenant)
        resources.append({"urn": comp, "type": COMPONENT_TYPE})
        for kind, rtype in (("project", PROJECT_TYPE), ("quota", QUOTA_TYPE)):
            name = child_name(tenant, kind)  # type: ignore[arg-type]
            resources.append({"urn": child(tenant, rtype, name), "parent": comp})
    resources.append({"urn": f"{BASE}pulumi:pulumi:Stack::neon-tenants-free-00"})
    owners = tenants_in_state(resources)
    for tenant in ("shop", "shop-branch-eu", "a-project", "a"):
        mine = {u for u, t in owners.items() if t == tenant}
        assert len(mine) == 3, (tenant, mine)  # component, project, quota (legacy state)
        assert all(u.endswith(f"::{tenant}") or f"::{tenant}-" in u for u in mine)
    assert f"{BASE}pulumi:pulumi:Stack::neon-tenants-free-00" not in owners


def test_urns_outside_tenants_have_no_tenant() -> None:
    assert tenant_of(f"{BASE}pulumi:pulumi:Stack::neon-tenants-free-00", None) is None
    assert tenant_of(f"{BASE}pulumi:providers:pulumi-python::default", None) is None


def test_engine_events_become_resource_steps_owned_by_their_parent() -> None:
    parent = component_urn("free-00", "neon-tenants", "acme")
    u = child("acme", PROJECT_TYPE, "acme-project")
    new = {"urn": u, "type": PROJECT_TYPE, "parent": parent}
    meta = {"op": "create", "urn": u, "type": PROJECT_TYPE, "provider": "", "new": new}
    pre = EngineEvent.from_json(
        {"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": meta}}
    )
    done = EngineEvent.from_json(
        {"sequence": 2, "timestamp": 0, "resOutputsEvent": {"metadata": meta}}
    )
    failed = EngineEvent.from_json(
        {
            "sequence": 3,
            "timestamp": 0,
            "resOpFailedEvent": {"metadata": meta, "status": 1, "steps": 1},
        }
    )
    steps = [from_engine_event("free-00", e) for e in (pre, done, failed)]
    assert steps == [
        ResourceStep("free-00", "acme", u, PROJECT_TYPE, "create", state)
        for state in ("started", "done", "failed")
    ]
    other = EngineEvent.from_json(
        {
            "sequence": 4,
            "timestamp": 0,
            "diagnosticEvent": {"message": "hi", "color": "never", "severity": "info"},
        }
    )
    assert from_engine_event("free-00", other) is None
