"""Resource URNs map to tenants; engine events reduce to typed ResourceSteps."""

from __future__ import annotations

from pulumi.automation import EngineEvent

from neon_tenants.automation.events import ResourceStep, from_engine_event, tenant_of_urn

COMP = "neon-tenants:index:TenantDatabase"
BASE = "urn:pulumi:free-00::neon-tenants::"


def test_tenant_of_urn_for_component_and_children() -> None:
    assert tenant_of_urn(f"{BASE}{COMP}::acme-co") == "acme-co"
    child = f"{BASE}{COMP}$pulumi-python:dynamic/neon:DevBranch::acme-co-branch-feat-1"
    assert tenant_of_urn(child) == "acme-co"
    quota = f"{BASE}{COMP}$pulumi-python:dynamic/neon:Quota::acme-co-quota"
    assert tenant_of_urn(quota) == "acme-co"


def test_urns_outside_tenants_have_no_tenant() -> None:
    assert tenant_of_urn(f"{BASE}pulumi:pulumi:Stack::neon-tenants-free-00") is None
    assert tenant_of_urn(f"{BASE}pulumi:providers:pulumi-python::default") is None


def test_engine_events_become_resource_steps() -> None:
    urn = f"{BASE}{COMP}$pulumi-python:dynamic/neon:NeonTenantProject::acme-project"
    meta = {
        "op": "create",
        "urn": urn,
        "type": "pulumi-python:dynamic/neon:NeonTenantProject",
        "provider": "",
    }
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
        ResourceStep("free-00", "acme", urn, meta["type"], "create", state)
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
