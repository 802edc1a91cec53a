"""What a program declares for one tenant: `TenantDatabaseArgs` = a tenant placed in a tier.

The tenant's own fields (overrides, dev branches, snapshots, add-ons, protection) are the
one tenant model of `neon_tenants.tenant`; this adds only where it runs (tier, org limits,
platform prefix, database and role). Validation runs the same rules as `FleetManager`
(`tenant.rules`), so a Python program fails at construction, and `pulumi preview` fails
again in the providers' `check` if a program bypasses the model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neon_tenants.archive.resource import ArchiveSettings
from neon_tenants.catalog import Limits, OrgLimits, Tier, builtin_catalog
from neon_tenants.catalog import validate as v
from neon_tenants.catalog.tiers import QUOTA_KEYS, Quota
from neon_tenants.migrate import MigrationSpec
from neon_tenants.naming import project_name
from neon_tenants.tenant import rules
from neon_tenants.tenant.model import (
    COMPUTE_KEYS,
    DEFAULT_BRANCH,
    DevBranchSpec,
    SnapshotSpec,
    TenantSpec,
)


class TenantDatabaseArgs(BaseModel):
    """Everything one tenant's database needs; see ARCHITECTURE.md (catalog/providers seam)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str
    tier: Tier
    org_limits: OrgLimits | None = None
    platform: str = Field(default="nt", pattern=r"^[a-z0-9][a-z0-9-]{0,14}$")
    quota_overrides: dict[str, int] = {}
    compute_overrides: dict[str, float | int] = {}
    dev_branches: list[DevBranchSpec] = []
    snapshots: list[SnapshotSpec] = []
    adopt_project_id: str | None = None
    neon_auth: bool = False
    data_api: bool = False
    protected: bool = False
    database_name: str = "neondb"
    role_name: str = "neondb_owner"
    archive: ArchiveSettings | None = None
    """Archive before delete (issue 12): a pulumi_command Command whose `delete` archives."""
    # the fleet added this tenant in this very call: no create was ever sent for its project
    # name, so the provider may skip the list-by-name reconcile (issue #16)
    first_attempt: bool = False
    migration: MigrationSpec | None = None
    """The app revision and its migration command (issue 12), run once per revision."""

    @classmethod
    def of(
        cls, tenant: TenantSpec, tier: Tier, platform: str = "nt",
        org_limits: OrgLimits | None = None, **placement: Any,
    ) -> TenantDatabaseArgs:
        """A fleet entry placed in a tier (the program's one way to build the inputs);
        `placement`: the non-tenant fields (archive, first_attempt, database/role names)."""
        own = set(cls.model_fields)
        data = {k: v for k, v in tenant.model_dump().items() if k in own and k != "id"}
        return cls(tenant_id=tenant.id, tier=tier, org_limits=org_limits, platform=platform,
                   **{**data, "dev_branches": list(tenant.dev_branches),
                      "snapshots": list(tenant.snapshots)}, **placement)

    # -- derived values the component passes on to the resources --------------------------

    @property
    def tenant(self) -> TenantSpec:
        """The tenant model (unvalidated copy: `failures` reports a bad id by field)."""
        return TenantSpec.model_construct(
            id=self.tenant_id, quota_overrides=dict(self.quota_overrides),
            compute_overrides=dict(self.compute_overrides),
            dev_branches=tuple(self.dev_branches), snapshots=tuple(self.snapshots),
            adopt_project_id=self.adopt_project_id, neon_auth=self.neon_auth,
            data_api=self.data_api, protected=self.protected,
        )

    @property
    def limits(self) -> Limits:
        org = self.org_limits or builtin_catalog().orgs.get(self.tier.org)
        if org is None:
            raise ValueError(f"no org limits for org alias {self.tier.org!r}: pass org_limits")
        return Limits.of(self.tier, org)

    @property
    def quota(self) -> Quota:
        return self.tier.quota.model_copy(update=dict(self.quota_overrides))

    @property
    def min_cu(self) -> float:
        return float(self.compute_overrides.get("min_cu", self.tier.min_cu))

    @property
    def max_cu(self) -> float:
        return float(self.compute_overrides.get("max_cu", self.tier.max_cu))

    @property
    def suspend_timeout_seconds(self) -> int:
        value = self.compute_overrides.get("suspend_timeout_seconds",
                                           self.tier.suspend_timeout_seconds)
        return int(value)

    @property
    def project_name(self) -> str:
        return project_name(self.platform, self.tenant_id)

    def failures(self) -> list[v.Failure]:
        """Every limit and name problem at once (the tenant rules plus database/role)."""
        out = rules.failures(self.tenant, self.tier, self.limits)
        for f in out:
            if f.property == "id":
                out[out.index(f)] = v.Failure("tenant_id", f.reason)
        out += v.role_name(self.role_name)
        out += v.database_name(self.database_name)
        return out

    @model_validator(mode="after")
    def _within_limits(self) -> TenantDatabaseArgs:
        failures = self.failures()
        if failures:
            raise ValueError(v.format_failures(failures))
        return self


__all__ = [
    "COMPUTE_KEYS",
    "DEFAULT_BRANCH",
    "QUOTA_KEYS",
    "DevBranchSpec",
    "SnapshotSpec",
    "TenantDatabaseArgs",
    "project_name",
]
