"""Read a tenant's usage from Neon and compare it with a tier, before a downgrade.

Refusing BEFORE any change (issue 7) is the point: a transfer to the free org that fails
half-way, or quotas the data already exceeds, would leave the tenant broken. Logical size
is per branch in Neon's quota (CONTRACT.md section 1), so the largest branch counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neon_tenants.automation.models import Usage

if TYPE_CHECKING:
    from neon_tenants.catalog import OrgLimits, Tier
    from neon_tenants.client import OrgClient


def read_usage(org: OrgClient, project_id: str) -> Usage:
    branches = list(org.iter_branches(project_id))
    sizes = [b.logical_size or 0 for b in branches]
    return Usage(
        logical_size_bytes=max(sizes, default=0),
        branches=len(branches),
        snapshots=len(org.list_snapshots(project_id)),
    )


def holds(org: OrgClient, project_id: str) -> bool:
    """Does this org hold the project? (An org key gets 404 for other orgs' projects.)"""
    from neon_tenants.client.errors import NotFound

    try:
        return org.get_project(project_id).org_id in (None, org.org_id)
    except NotFound:
        return False


def violations(usage: Usage, tier: Tier, org: OrgLimits | None) -> list[dict[str, int | str]]:
    """Each limit the usage exceeds, as {name, actual, limit} (0 = unlimited is skipped)."""
    out: list[dict[str, int | str]] = []
    size_cap = tier.quota.logical_size_bytes
    if size_cap and usage.logical_size_bytes > size_cap:
        out.append(
            {"name": "logical_size_bytes", "actual": usage.logical_size_bytes, "limit": size_cap}
        )
    branch_cap = min(tier.branch_cap, org.max_branches) if org else tier.branch_cap
    if usage.branches > branch_cap:
        out.append({"name": "branches", "actual": usage.branches, "limit": branch_cap})
    snap_cap = min(tier.snapshot_cap, org.max_snapshots) if org else tier.snapshot_cap
    if usage.snapshots > snap_cap:
        out.append({"name": "snapshots", "actual": usage.snapshots, "limit": snap_cap})
    return out


def describe(tenant: str, tier: str, found: list[dict[str, int | str]]) -> str:
    parts = ", ".join(f"{v['name']} {v['actual']} > {v['limit']}" for v in found)
    return f"tenant {tenant} does not fit tier {tier}: {parts}; reduce usage first"


def fit_settings(org: OrgClient, project_id: str, tier: Tier) -> None:
    """Before a transfer to a smaller org: settings the destination would refuse (406
    `limits not met`, e.g. history retention above the free org's 1 day) are brought to the
    target tier's values first; the target stack then applies quotas as usual."""
    from neon_tenants.client.models.projects import DefaultEndpointSettings, ProjectUpdate

    org.update_project(
        project_id,
        ProjectUpdate(
            history_retention_seconds=tier.history_retention_seconds,
            default_endpoint_settings=DefaultEndpointSettings(
                autoscaling_limit_min_cu=tier.min_cu,
                autoscaling_limit_max_cu=tier.max_cu,
                suspend_timeout_seconds=tier.suspend_timeout_seconds,
            ),
        ),
    )
