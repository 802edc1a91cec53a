"""`audit.compare` on hand-built views: the kinds the engine test does not build (drift in
name and org, an unfinished tier move, resources without an owning tenant, a project Neon
lists nowhere but did not confirm gone)."""

from __future__ import annotations

from typing import Any

from neon_tenants.automation.audit import (
    FleetTenant,
    NeonProject,
    StackState,
    compare,
)
from neon_tenants.naming import COMPONENT_TYPE, PROJECT_TYPE


def _tenant_state(stack: str, tenant: str, project_id: str) -> list[dict[str, Any]]:
    comp = f"urn:pulumi:{stack}::neon-tenants::{COMPONENT_TYPE}::{tenant}"
    proj = f"urn:pulumi:{stack}::neon-tenants::{COMPONENT_TYPE}${PROJECT_TYPE}::{tenant}-project"
    return [
        {"urn": comp, "type": COMPONENT_TYPE},
        {
            "urn": proj,
            "type": PROJECT_TYPE,
            "parent": comp,
            "id": project_id,
            "outputs": {"project_id": project_id},
        },
    ]


def _fleet(tenant: str, stack: str = "free", tier: str = "free") -> FleetTenant:
    return FleetTenant(tenant, tier, stack, f"nt-{tenant}", "org-free")


def test_renamed_and_moved_projects_are_drift_without_a_fix() -> None:
    states = [
        StackState("free", (*_tenant_state("free", "a", "p-a"), *_tenant_state("free", "b", "p-b")))
    ]
    projects = [NeonProject("p-a", "renamed", "org-free"), NeonProject("p-b", "nt-b", "org-paid")]
    report = compare([_fleet("a"), _fleet("b")], states, projects)
    drift = {f.subject: f for f in report.of_kind("drift")}
    assert "name 'renamed'" in drift["a"].detail and "org org-paid" in drift["b"].detail
    assert drift["a"].fix is None and not report.consistent


def test_unfinished_move_blocks_the_source_stacks_up() -> None:
    """The tenant is in both stacks' state; an `up` of the source would delete its project."""
    states = [
        StackState("free", tuple(_tenant_state("free", "a", "p-a"))),
        StackState("pro", tuple(_tenant_state("pro", "a", "p-a"))),
    ]
    report = compare([_fleet("a", "pro", "pro")], states, [NeonProject("p-a", "nt-a", "org-free")])
    (move,) = [f for f in report.of_kind("drift") if f.stack == "free"]
    assert move.blocks_up and "unfinished tier move" in move.detail


def test_resources_without_a_tenant_and_unconfirmed_missing_projects() -> None:
    stray = {
        "urn": f"urn:pulumi:free::neon-tenants::{PROJECT_TYPE}::loose",
        "type": PROJECT_TYPE,
        "id": "p-x",
        "outputs": {"project_id": "p-x"},
    }
    states = [StackState("free", (*_tenant_state("free", "a", "p-a"), stray))]
    report = compare([_fleet("a")], states, [], gone=())
    (unowned,) = report.of_kind("unowned_resources")
    assert unowned.subject == "free" and "loose" in unowned.detail
    (missing,) = report.of_kind("missing_project")
    assert missing.fix is None and "not confirmed" in missing.detail


def test_tenant_in_fleet_with_a_live_project_but_no_state_is_adopted() -> None:
    report = compare(
        [_fleet("a")], [StackState("free", ())], [NeonProject("p-a", "nt-a", "org-free")]
    )
    (nd,) = report.of_kind("not_deployed")
    assert nd.fix == "adopt" and nd.project_ids == ("p-a",)
