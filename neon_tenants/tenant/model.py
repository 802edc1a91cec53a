"""The one tenant model: id, tier overrides, dev branches, snapshots, protection, add-ons.

Used by the fleet file (`fleet/spec.py`), the program's component inputs
(`providers/specs.py`) and `FleetManager`, so the shapes cannot drift (issue 10; before, the
fleet and the providers each had their own copy, with `expires_at` a string in one and a
datetime in the other). Imports no Pulumi: a backend validates a request with it alone.

The model checks shape only (types, unknown keys, the id syntax). The rules that need the
tier (caps, ranges, retention window) are in `rules.py` and run before any write.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from neon_tenants.catalog import validate as v
from neon_tenants.checkpoint import Checkpoint, check_revision

DEFAULT_BRANCH = "production"
COMPUTE_KEYS: tuple[str, ...] = ("min_cu", "max_cu", "suspend_timeout_seconds")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DevBranchSpec(_Spec):
    """A development branch with its own read-write endpoint.

    `parent` is "production" (the default branch) or a dev branch declared before it.
    `parent_timestamp` / `parent_lsn` branch from the parent's past (inside the tier's
    history retention window; at most one of the two). Changing `reset_trigger` resets the
    branch to its parent's head.
    """

    name: str
    parent: str = DEFAULT_BRANCH
    parent_timestamp: datetime | None = None
    parent_lsn: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
    min_cu: float | None = None
    max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    expires_at: datetime | None = None
    reset_trigger: str | None = None
    neon_auth: bool = False
    data_api: bool = False

    @model_validator(mode="after")
    def _one_point_in_time(self) -> DevBranchSpec:
        if self.parent_timestamp is not None and self.parent_lsn is not None:
            raise ValueError("give parent_timestamp or parent_lsn, not both")
        return self


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


class TenantSpec(_Spec):
    """One tenant as the platform declares it; its tier comes from where it is placed."""

    id: str
    quota_overrides: dict[str, int] = Field(default_factory=dict)
    compute_overrides: dict[str, float | int] = Field(default_factory=dict)
    dev_branches: tuple[DevBranchSpec, ...] = ()
    snapshots: tuple[SnapshotSpec, ...] = ()
    adopt_project_id: str | None = None
    neon_auth: bool = False
    data_api: bool = False
    protected: bool = False
    app_revision: str | None = None
    """Pins this tenant's app revision (a rollout in progress); default: the fleet's."""
    migration_command: str | None = None
    """Overrides the fleet's migration command for this tenant."""
    checkpoints: tuple[Checkpoint, ...] = ()
    """Compound checkpoints (issue 12); each names one of `snapshots`."""

    @field_validator("app_revision")
    @classmethod
    def _revision_shape(cls, value: str | None) -> str | None:
        if value is not None:
            check_revision(value)
        return value

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        failures = v.tenant_id(value, "id")
        if failures:
            raise ValueError(failures[0].reason)
        return value

    def with_dev_branch(self, branch: DevBranchSpec) -> TenantSpec:
        """Add or replace the dev branch of that name (kept in declaration order)."""
        if self.dev_branch(branch.name) is not None:
            kept = tuple(branch if b.name == branch.name else b for b in self.dev_branches)
            return self.model_copy(update={"dev_branches": kept})
        return self.model_copy(update={"dev_branches": (*self.dev_branches, branch)})

    def without_dev_branch(self, name: str) -> TenantSpec:
        kept = tuple(b for b in self.dev_branches if b.name != name)
        return self.model_copy(update={"dev_branches": kept})

    def dev_branch(self, name: str) -> DevBranchSpec | None:
        return next((b for b in self.dev_branches if b.name == name), None)

    def require_dev_branch(self, name: str) -> DevBranchSpec:
        found = self.dev_branch(name)
        if found is None:
            raise KeyError(f"tenant {self.id!r} has no dev branch {name!r}")
        return found

    def snapshot(self, name: str) -> SnapshotSpec | None:
        return next((s for s in self.snapshots if s.name == name), None)
