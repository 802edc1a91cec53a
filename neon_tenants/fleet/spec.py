"""Fleet files: the tenants of one tier, as YAML (`stacks/fleets/<tier>.yaml`).

The fleet file is the source of truth for what a tier's stacks hold (issue 7): the CLI and
`FleetManager` edit it, then run `up` on the affected shard. Models are frozen so a fleet
read once cannot drift while a program is being built from it; edits go through
`with_tenant` / `without_tenant`, which return new fleets.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from neon_tenants.checkpoint import Checkpoint, check_revision

TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$")


class DevBranchEntry(BaseModel):
    """A development branch declared for a tenant (mirrors providers.DevBranchSpec)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    parent: str = "production"
    min_cu: float | None = None
    max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    expires_at: str | None = None
    reset_trigger: str | None = None
    neon_auth: bool = False
    data_api: bool = False


class SnapshotEntry(BaseModel):
    """A declared snapshot (mirrors providers.SnapshotSpec)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    branch: str = "production"
    timestamp: str | None = None
    pinned: bool = False
    restore_trigger: str | None = None


class TenantSpec(BaseModel):
    """One tenant of a fleet: its id plus optional overrides; the tier comes from the fleet."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    quota_overrides: dict[str, int] = Field(default_factory=dict)
    compute_overrides: dict[str, float | int] = Field(default_factory=dict)
    dev_branches: tuple[DevBranchEntry, ...] = ()
    snapshots: tuple[SnapshotEntry, ...] = ()
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
        if not TENANT_ID_RE.match(value):
            raise ValueError(
                f"tenant id {value!r} must be 2-48 chars of a-z, 0-9 and '-', "
                "starting and ending with a letter or digit"
            )
        return value

    def with_dev_branch(self, branch: DevBranchEntry) -> TenantSpec:
        """Add or replace the dev branch of that name."""
        kept = tuple(b for b in self.dev_branches if b.name != branch.name)
        return self.model_copy(update={"dev_branches": (*kept, branch)})

    def without_dev_branch(self, name: str) -> TenantSpec:
        kept = tuple(b for b in self.dev_branches if b.name != name)
        return self.model_copy(update={"dev_branches": kept})

    def dev_branch(self, name: str) -> DevBranchEntry | None:
        return next((b for b in self.dev_branches if b.name == name), None)

    def require_dev_branch(self, name: str) -> DevBranchEntry:
        found = self.dev_branch(name)
        if found is None:
            raise KeyError(f"tenant {self.id!r} has no dev branch {name!r}")
        return found


class FleetSpec(BaseModel):
    """The tenants of one tier and how many shard stacks they are spread over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str
    shards: int = Field(default=1, ge=1, le=99)
    platform: str = "nt"
    tenants: tuple[TenantSpec, ...] = ()
    app_revision: str | None = None
    """The app revision the tier's tenants run (issue 12: migrations run per revision)."""
    migration_command: str | None = None
    """Run once per tenant per app revision (`sh -c`, $DATABASE_URL secret in its env)."""

    @field_validator("app_revision")
    @classmethod
    def _revision_shape(cls, value: str | None) -> str | None:
        if value is not None:
            check_revision(value)
        return value

    def revision_of(self, tenant: TenantSpec) -> str | None:
        return tenant.app_revision or self.app_revision

    def migration_of(self, tenant: TenantSpec) -> str | None:
        return tenant.migration_command or self.migration_command

    @field_validator("tenants")
    @classmethod
    def _unique_ids(cls, tenants: tuple[TenantSpec, ...]) -> tuple[TenantSpec, ...]:
        seen: set[str] = set()
        for tenant in tenants:
            if tenant.id in seen:
                raise ValueError(f"tenant {tenant.id!r} appears twice in the fleet")
            seen.add(tenant.id)
        return tenants

    def get(self, tenant_id: str) -> TenantSpec | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def require(self, tenant_id: str) -> TenantSpec:
        found = self.get(tenant_id)
        if found is None:
            raise KeyError(f"tenant {tenant_id!r} is not in the {self.tier} fleet")
        return found

    def with_tenant(self, tenant: TenantSpec) -> FleetSpec:
        """Add or replace a tenant; tenants stay sorted by id so fleet diffs read well."""
        kept = [t for t in self.tenants if t.id != tenant.id]
        kept.append(tenant)
        return self.model_copy(update={"tenants": tuple(sorted(kept, key=lambda t: t.id))})

    def without_tenant(self, tenant_id: str) -> FleetSpec:
        kept = tuple(t for t in self.tenants if t.id != tenant_id)
        return self.model_copy(update={"tenants": kept})

    def to_yaml(self) -> str:
        return yaml.safe_dump(_compact(self), sort_keys=False, default_flow_style=False)


def _compact(fleet: FleetSpec) -> dict[str, Any]:
    """The fleet as plain data, without defaults, so hand-written files stay short."""
    data: dict[str, Any] = {"tier": fleet.tier, "shards": fleet.shards}
    if fleet.platform != "nt":
        data["platform"] = fleet.platform
    for key in ("app_revision", "migration_command"):
        if getattr(fleet, key) is not None:
            data[key] = getattr(fleet, key)
    data["tenants"] = [t.model_dump(mode="json", exclude_defaults=True) for t in fleet.tenants]
    return data


def parse_fleet(text: str, *, source: str = "<fleet>") -> FleetSpec:
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{source}: a fleet file is a mapping with 'tier' and 'tenants'")
    return FleetSpec.model_validate(data)


def load_fleet(path: Path, *, tier: str | None = None, shards: int = 1) -> FleetSpec:
    """Read a fleet file; a missing file is an empty fleet of `tier` (first provision)."""
    if not path.exists():
        if tier is None:
            raise FileNotFoundError(f"fleet file {path} does not exist")
        return FleetSpec(tier=tier, shards=shards)
    fleet = parse_fleet(path.read_text(encoding="utf-8"), source=str(path))
    if tier is not None and fleet.tier != tier:
        raise ValueError(f"{path} declares tier {fleet.tier!r}, expected {tier!r}")
    return fleet


def save_fleet(path: Path, fleet: FleetSpec) -> None:
    """Atomic write (temp file + rename): a crash never leaves half a fleet behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(fleet.to_yaml())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
