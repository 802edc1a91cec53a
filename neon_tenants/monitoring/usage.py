"""Per-tenant usage against the project's own quota (the guide: "monitor consumption").

Counters come from `GET /projects/{id}` (the list item has none), which Neon refreshes for
the current billing period without waking computes. Limits come from the project's own
`settings.quota` rather than the tier catalog: the quota actually applied (overrides
included) is what suspends computes (CONTRACT.md section 1), so that is what to warn about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, computed_field

if TYPE_CHECKING:
    from neon_tenants.catalog import Catalog
    from neon_tenants.client import OrgClient
    from neon_tenants.client.models.projects import Project

METRICS: tuple[str, ...] = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
    "logical_size_bytes",
)
DEFAULT_PLATFORM = "nt"


class MetricUsage(BaseModel):
    """One counter and its limit; limit 0 means unlimited (CONTRACT.md section 1)."""

    model_config = ConfigDict(frozen=True)

    name: str
    used: int
    limit: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ratio(self) -> float | None:
        """used / limit, or None when unlimited (no ratio can alert)."""
        return self.used / self.limit if self.limit > 0 else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percent(self) -> float | None:
        return None if self.ratio is None else round(self.ratio * 100, 2)


class TenantUsage(BaseModel):
    """What one tenant's project used this period, metric by metric."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    project_id: str
    project_name: str
    org: str
    org_id: str | None = None
    tier: str | None = None
    metrics: tuple[MetricUsage, ...]
    synthetic_storage_size: int | None = None
    consumption_period_start: str | None = None
    consumption_period_end: str | None = None

    def metric(self, name: str) -> MetricUsage:
        for item in self.metrics:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def worst_ratio(self) -> float | None:
        ratios = [m.ratio for m in self.metrics if m.ratio is not None]
        return max(ratios, default=None)


def tenant_of(project_name: str, platform: str = DEFAULT_PLATFORM) -> str:
    """Projects are named "<platform>-<tenant_id>" (ARCHITECTURE.md); others keep their name."""
    prefix = f"{platform}-"
    return project_name[len(prefix) :] if project_name.startswith(prefix) else project_name


def quota_of(settings: Mapping[str, Any] | None) -> dict[str, int]:
    """settings.quota as ints; absent, null or 0 all mean unlimited."""
    raw = (settings or {}).get("quota") or {}
    return {name: int(raw.get(name) or 0) for name in METRICS}


def tier_for(quota: Mapping[str, int], org: str, catalog: Catalog | None) -> str | None:
    """The catalog tier of this org whose quota is exactly this one; None for overrides.

    Neon keeps no tier on the project (the name omits it so a tier change is an in-place
    transfer, ARCHITECTURE.md), so the applied quota is the only trace of it in the API.
    """
    if catalog is None:
        return None
    for name, tier in sorted(catalog.tiers.items()):
        if tier.org == org and tier.quota.model_dump() == dict(quota):
            return name
    return None


def _extra_int(project: Project, name: str) -> int | None:
    value = (project.model_extra or {}).get(name)
    return int(value) if value is not None else None


def usage_from_project(
    project: Project,
    org: str,
    *,
    logical_size_bytes: int | None = None,
    platform: str = DEFAULT_PLATFORM,
    catalog: Catalog | None = None,
) -> TenantUsage:
    """Pure: a project body (+ the largest branch's logical size) -> TenantUsage.

    logical_size_bytes is a per-branch quota in Neon, so the largest branch is what hits
    it; without branch sizes we fall back to synthetic_storage_size (an upper bound).
    """
    quota = quota_of(project.settings)
    synthetic = _extra_int(project, "synthetic_storage_size")
    used = {
        "active_time_seconds": project.active_time_seconds or 0,
        "compute_time_seconds": project.compute_time_seconds or 0,
        "written_data_bytes": project.written_data_bytes or 0,
        "data_transfer_bytes": project.data_transfer_bytes or 0,
        "logical_size_bytes": (
            logical_size_bytes if logical_size_bytes is not None else (synthetic or 0)
        ),
    }
    return TenantUsage(
        tenant=tenant_of(project.name, platform),
        project_id=project.id,
        project_name=project.name,
        org=org,
        org_id=project.org_id,
        tier=tier_for(quota, org, catalog),
        metrics=tuple(MetricUsage(name=n, used=used[n], limit=quota[n]) for n in METRICS),
        synthetic_storage_size=synthetic,
        consumption_period_start=project.consumption_period_start,
        consumption_period_end=project.consumption_period_end,
    )


def largest_branch_size(org: OrgClient, project_id: str) -> int:
    return max((b.logical_size or 0 for b in org.iter_branches(project_id)), default=0)


def collect_usage(
    org: OrgClient,
    *,
    search: str | None = None,
    branch_sizes: bool = True,
    platform: str = DEFAULT_PLATFORM,
    catalog: Catalog | None = None,
) -> list[TenantUsage]:
    """Every project of the org (optionally filtered by `search`), one get per project.

    branch_sizes=False saves one list-branches call per project and uses the synthetic
    storage size for the logical-size quota instead.
    """
    out: list[TenantUsage] = []
    for item in org.iter_projects(search=search):
        project = org.get_project(item.id)
        size = largest_branch_size(org, item.id) if branch_sizes else None
        out.append(
            usage_from_project(
                project, org.alias, logical_size_bytes=size, platform=platform, catalog=catalog
            )
        )
    return out


def rows(usages: Iterable[TenantUsage]) -> list[dict[str, Any]]:
    """Flat JSON-ready dicts (one per tenant) for `--json` and exports."""
    return [u.model_dump(mode="json") for u in usages]
