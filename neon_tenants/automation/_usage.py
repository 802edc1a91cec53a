"""Read a tenant's usage from Neon and compare it with a tier, before a tier move.

Refusing BEFORE any change (issues 7 and 10) is the point: a transfer to the free org that
fails half-way, or quotas the data already exceeds, would leave the tenant broken. Every
counter a quota suspends on is checked for the current consumption period (active time,
compute time, written data, data transfer; CONTRACT.md section 1), and logical size is per
branch in Neon's quota, so the largest branch counts. Settings the destination org would
refuse are lowered only right before the transfer and put back if it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neon_tenants.automation.models import Usage
from neon_tenants.catalog import QUOTA_KEYS

if TYPE_CHECKING:
    from neon_tenants.catalog import OrgLimits, Tier
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.projects import Project


COUNTERS = ("active_time_seconds", "compute_time_seconds", "written_data_bytes",
            "data_transfer_bytes")


def read_usage(org: OrgClient, project_id: str) -> Usage:
    branches = list(org.iter_branches(project_id))
    sizes = [b.logical_size or 0 for b in branches]
    project = org.get_project(project_id)
    return Usage(
        logical_size_bytes=max(sizes, default=0),
        branches=len(branches),
        snapshots=len(org.list_snapshots(project_id)),
        **{k: int(getattr(project, k, None) or 0) for k in COUNTERS},
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
    for key in COUNTERS:
        cap = getattr(tier.quota, key)
        actual = getattr(usage, key)
        if cap and actual > cap:
            out.append({"name": key, "actual": actual, "limit": cap})
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


def lowered_limits(source: Tier, target: Tier) -> list[str]:
    """What moving from `source` to `target` would lower (0 = unlimited is the highest)."""

    def rank(value: float) -> float:
        return float("inf") if value == 0 else value

    out: list[str] = []
    for key in QUOTA_KEYS:
        old, new = getattr(source.quota, key), getattr(target.quota, key)
        if rank(new) < rank(old):
            out.append(f"quota.{key} {old or 'unlimited'} -> {new}")
    for key in ("max_cu", "history_retention_seconds", "snapshot_cap", "branch_cap"):
        old, new = getattr(source, key), getattr(target, key)
        if new < old:
            out.append(f"{key} {old} -> {new}")
    return out


def transfer_fitted(
    client: NeonClient, org: OrgClient, dst_org: OrgClient, project_id: str, tier: Tier,
    *, fit: bool,
) -> None:
    """Transfer the project; with `fit`, settings the destination would refuse (406
    `limits not met`, e.g. history retention above the free org's 1 day) are brought to the
    target tier's values first, and put back when the transfer fails, so a refused
    downgrade leaves the project as it was (issue 10 item 6)."""
    before = fit_settings(org, project_id, tier) if fit else None
    from neon_tenants.client.errors import AmbiguousOutcome

    try:
        try:
            client.personal.transfer_projects(org.org_id, dst_org.org_id, [project_id])
        except AmbiguousOutcome:
            # a lost reply (act-then-drop): settled by asking the target org whether it
            # holds the project now, not by failing the move (issue 14 chaos matrix)
            if not holds(dst_org, project_id):
                raise
    except BaseException:
        if before is not None:
            put_back_settings(org, before)
        raise


def fit_settings(org: OrgClient, project_id: str, tier: Tier) -> Project:
    """The project's settings brought to `tier`'s values (what a smaller org accepts);
    returns the project as it was, for `put_back_settings`."""
    from neon_tenants.client.models.projects import DefaultEndpointSettings, ProjectUpdate

    before = org.get_project(project_id)
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
    return before


def put_back_settings(org: OrgClient, before: Project) -> None:
    """Undo `fit_settings` (a refused transfer leaves the project as it was)."""
    from neon_tenants.client.models.projects import DefaultEndpointSettings, ProjectUpdate

    defaults = before.default_endpoint_settings or {}
    org.update_project(
        before.id,
        ProjectUpdate(
            history_retention_seconds=before.history_retention_seconds,
            default_endpoint_settings=DefaultEndpointSettings.model_validate(
                {k: v for k, v in dict(defaults).items()
                 if k in DefaultEndpointSettings.model_fields}
            ),
        ),
    )
