"""Fleet files: the tenants of one tier, as YAML (`stacks/fleets/<tier>.yaml`).

The fleet file is the source of truth for what a tier's stacks hold (issue 7): the CLI and
`FleetManager` edit it (through `automation._store.FileFleetStore`), then run `up` on the
affected shard. Its entries are the one tenant model, `neon_tenants.tenant.TenantSpec`.
Models are frozen so a fleet read once cannot drift while a program is being built from it;
edits go through `with_tenant` / `without_tenant`, which return new fleets.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from neon_tenants.checkpoint import check_revision
from neon_tenants.tenant.model import DevBranchSpec, SnapshotSpec, TenantSpec

# the fleet file holds the one tenant model (neon_tenants.tenant); old names kept as aliases
DevBranchEntry = DevBranchSpec
SnapshotEntry = SnapshotSpec
__all__ = [
    "DevBranchEntry",
    "DevBranchSpec",
    "FleetSpec",
    "SnapshotEntry",
    "SnapshotSpec",
    "TenantSpec",
    "load_fleet",
    "parse_fleet",
    "save_fleet",
]


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
