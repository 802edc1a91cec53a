"""What a program declares for one tenant: `TenantDatabaseArgs` and its nested specs.

These pydantic models are the single source of truth for the component's inputs. Their
validation calls the same pure checks as the providers' `check` (catalog/validate.py), so a
Python program fails at construction, and `pulumi preview` fails again in `check` if a
program bypasses the models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neon_tenants.archive.resource import ArchiveSettings
from neon_tenants.catalog import Limits, OrgLimits, Tier, builtin_catalog
from neon_tenants.catalog import validate as v
from neon_tenants.catalog.tiers import QUOTA_KEYS, Quota
from neon_tenants.migrate import MigrationSpec

DEFAULT_BRANCH = "production"
COMPUTE_KEYS = ("min_cu", "max_cu", "suspend_timeout_seconds")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DevBranchSpec(_Spec):
    """A development branch with its own read-write endpoint.

    `parent` is "production" (the default branch) or the name of another dev branch declared
    before it. Changing `reset_trigger` resets the branch to its parent's head.
    """

    name: str
    parent: str = DEFAULT_BRANCH
    min_cu: float | None = None
    max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    expires_at: datetime | None = None
    reset_trigger: str | None = None
    neon_auth: bool = False
    data_api: bool = False


class SnapshotSpec(_Spec):
    """A named snapshot of a branch (now, or at `timestamp` inside the retention window).

    Changing `restore_trigger` restores the branch from the snapshot (finalized: the branch
    gets a new id, which the resource reports as `active_branch_id`).
    """

    name: str = Field(min_length=1, max_length=256)
    branch: str = DEFAULT_BRANCH
    timestamp: datetime | None = None
    pinned: bool = False
    restore_trigger: str | None = None


def project_name(platform: str, tenant_id: str) -> str:
    """`<platform>-<tenant_id>`: no tier in the name, since a tier change is a transfer."""
    return f"{platform}-{tenant_id}"


class TenantDatabaseArgs(_Spec):
    """Everything one tenant's database needs; see ARCHITECTURE.md (catalog/providers seam)."""

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

    # -- derived values the component passes on to the resources --------------------------

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
        """Every limit and name problem at once, so one run lists all fixes."""
        limits = self.limits
        out = v.tenant_id(self.tenant_id)
        out += v.role_name(self.role_name)
        out += v.database_name(self.database_name)
        out += v.quota_values(self.quota_overrides, self.tier, "quota_overrides")
        for key in self.compute_overrides:
            if key not in COMPUTE_KEYS:
                out.append(v.Failure(f"compute_overrides.{key}",
                                     f"unknown key; known: {', '.join(COMPUTE_KEYS)}"))
        out += v.compute_range(self.min_cu, self.max_cu, limits, "compute_overrides.")
        out += v.suspend_timeout(self.suspend_timeout_seconds, limits,
                                 "compute_overrides.suspend_timeout_seconds")
        out += v.history_retention(self.tier.history_retention_seconds, limits,
                                   "tier.history_retention_seconds")
        out += v.branch_count(len(self.dev_branches) + 1, limits)
        out += v.snapshot_count(len(self.snapshots), limits)
        seen: set[str] = set()
        for i, b in enumerate(self.dev_branches):
            p = f"dev_branches[{i}]"
            out += v.branch_name(b.name, f"{p}.name")
            if b.name in seen:
                out.append(v.Failure(f"{p}.name", f"duplicate branch name {b.name!r}"))
            if b.parent != DEFAULT_BRANCH and b.parent not in seen:
                out.append(v.Failure(f"{p}.parent", f"parent {b.parent!r} must be "
                                     f"'{DEFAULT_BRANCH}' or a dev branch declared before it"))
            seen.add(b.name)
            out += v.compute_range(b.min_cu if b.min_cu is not None else self.min_cu,
                                   b.max_cu if b.max_cu is not None else self.max_cu,
                                   limits, f"{p}.")
            if b.suspend_timeout_seconds is not None:
                out += v.suspend_timeout(b.suspend_timeout_seconds, limits,
                                         f"{p}.suspend_timeout_seconds")
        snap_names: set[str] = set()
        for i, s in enumerate(self.snapshots):
            p = f"snapshots[{i}]"
            if s.name in snap_names:
                out.append(v.Failure(f"{p}.name", f"duplicate snapshot name {s.name!r}"))
            snap_names.add(s.name)
            if s.branch != DEFAULT_BRANCH and s.branch not in seen:
                out.append(v.Failure(f"{p}.branch", f"branch {s.branch!r} must be "
                                     f"'{DEFAULT_BRANCH}' or a declared dev branch"))
        return out

    @model_validator(mode="after")
    def _within_limits(self) -> TenantDatabaseArgs:
        failures = self.failures()
        if failures:
            raise ValueError(v.format_failures(failures))
        return self


SnapshotPolicy = Literal["replace", "evict_oldest"]
__all__ = ["QUOTA_KEYS", "DevBranchSpec", "SnapshotSpec", "TenantDatabaseArgs", "project_name"]
