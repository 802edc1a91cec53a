"""Tier and organization-limit models, and the built-in catalog.

The numbers come from the Agent plan integration guide's tables (organization limits and
tier quotas, /work/shared/seed); a YAML file may override or add tiers (`stacks/tiers.yaml`).
Models are frozen: a tier is a value that providers copy into their inputs.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

QUOTA_KEYS: tuple[str, ...] = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
    "logical_size_bytes",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Quota(_Frozen):
    """`settings.quota` of a project; 0 means unlimited (CONTRACT.md section 1)."""

    active_time_seconds: int = Field(default=0, ge=0)
    compute_time_seconds: int = Field(default=0, ge=0)
    written_data_bytes: int = Field(default=0, ge=0)
    data_transfer_bytes: int = Field(default=0, ge=0)
    logical_size_bytes: int = Field(default=0, ge=0)


class OrgLimits(_Frozen):
    """What an organization (free or paid) allows per project (guide: organization limits)."""

    max_branches: int = Field(ge=1)
    max_snapshots: int = Field(ge=0)
    min_cu: float = Field(ge=0.25)
    max_cu: float = Field(ge=0.25)
    max_history_retention_seconds: int = Field(ge=0, le=2592000)
    min_suspend_timeout_seconds: int = Field(ge=60)
    max_active_endpoints: int = 20
    max_read_only_endpoints: int = 3
    allow_never_suspend: bool = True  # suspend_timeout_seconds=-1 (free orgs must scale to 0)


class Prices(_Frozen):
    """What a tier's tenants are billed per unit (USD; issue 13). The guide's figures: the paid
    organization is billed $0.106 per compute-unit hour, the free one is sponsored by Neon."""

    compute_unit_hour: Decimal = Field(default=Decimal(0), ge=0)
    storage_gb_month: Decimal = Field(default=Decimal(0), ge=0)
    transfer_gb: Decimal = Field(default=Decimal(0), ge=0)


PAID_PRICES = Prices(compute_unit_hour=Decimal("0.106"))


class Tier(_Frozen):
    """A product tier: which org its projects live in, their quota and compute limits."""

    name: str
    org: str
    quota: Quota = Quota()
    min_cu: float = Field(ge=0.25)
    max_cu: float = Field(ge=0.25)
    suspend_timeout_seconds: int
    history_retention_seconds: int = Field(ge=0)
    snapshot_cap: int = Field(ge=0)
    snapshot_policy: Literal["replace", "evict_oldest"]
    branch_cap: int = Field(ge=1)
    region_id: str = "aws-us-east-2"
    pg_version: int = Field(default=17, ge=14, le=18)
    prices: Prices = Prices()
    # branch hygiene (automation/_hygiene.py): how many `pre-restore-*` branches an undo
    # keeps, and for how long (None: until pushed out); they count against branch_cap
    restore_branches_kept: int = Field(default=1, ge=0)
    restore_branches_max_age_seconds: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _cu_order(self) -> Tier:
        if self.min_cu > self.max_cu:
            raise ValueError(f"tier {self.name}: min_cu {self.min_cu} > max_cu {self.max_cu}")
        return self


class Catalog(_Frozen):
    """Orgs by alias and tiers by name; every tier must fit inside its org's limits."""

    orgs: dict[str, OrgLimits]
    tiers: dict[str, Tier]

    @model_validator(mode="after")
    def _tiers_fit_orgs(self) -> Catalog:
        from neon_tenants.catalog.validate import validate_tier

        problems: list[str] = []
        for tier in self.tiers.values():
            org = self.orgs.get(tier.org)
            if org is None:
                problems.append(f"tier {tier.name}: unknown org alias {tier.org!r}")
                continue
            problems.extend(f"{f.property}: {f.reason}" for f in validate_tier(tier, org))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def tier(self, name: str) -> Tier:
        """The tier called `name`, or a KeyError that lists the known tiers."""
        try:
            return self.tiers[name]
        except KeyError:
            raise KeyError(f"unknown tier {name!r}; known: {sorted(self.tiers)}") from None

    def org_limits(self, tier: Tier) -> OrgLimits:
        return self.orgs[tier.org]


FREE_ORG = OrgLimits(
    max_branches=10,
    max_snapshots=1,
    min_cu=0.25,
    max_cu=2,
    max_history_retention_seconds=86400,
    min_suspend_timeout_seconds=300,
    allow_never_suspend=False,
)
PAID_ORG = OrgLimits(
    max_branches=1000,
    max_snapshots=10,
    min_cu=0.25,
    max_cu=16,
    max_history_retention_seconds=604800,
    min_suspend_timeout_seconds=60,
)

FREE = Tier(
    name="free",
    org="free",
    quota=Quota(
        active_time_seconds=360000,
        logical_size_bytes=536870912,
        data_transfer_bytes=5368709120,
    ),
    min_cu=0.25,
    max_cu=2,
    suspend_timeout_seconds=300,
    history_retention_seconds=86400,
    snapshot_cap=1,
    snapshot_policy="replace",
    branch_cap=10,
)
PRO = Tier(
    name="pro",
    org="paid",
    quota=Quota(
        active_time_seconds=2700000,
        logical_size_bytes=10737418240,
        data_transfer_bytes=53687091200,
    ),
    min_cu=0.25,
    max_cu=2,
    suspend_timeout_seconds=300,
    history_retention_seconds=604800,
    snapshot_cap=10,
    snapshot_policy="evict_oldest",
    branch_cap=1000,
    prices=PAID_PRICES,
    restore_branches_kept=3,
    restore_branches_max_age_seconds=604800,
)
ENTERPRISE = Tier(
    name="enterprise",
    org="paid",
    quota=Quota(logical_size_bytes=107374182400),
    min_cu=0.25,
    max_cu=8,
    suspend_timeout_seconds=60,
    history_retention_seconds=604800,
    snapshot_cap=10,
    snapshot_policy="evict_oldest",
    branch_cap=1000,
    prices=PAID_PRICES,
    restore_branches_kept=5,
    restore_branches_max_age_seconds=604800,
)


def builtin_catalog() -> Catalog:
    return Catalog(
        orgs={"free": FREE_ORG, "paid": PAID_ORG},
        tiers={t.name: t for t in (FREE, PRO, ENTERPRISE)},
    )


def load_catalog(path: Path | None = None) -> Catalog:
    """Built-in tiers, overlaid with a YAML file (`orgs:` and `tiers:` maps) when given.

    A YAML tier entry may name only the fields it changes when it overrides a built-in tier
    (`tiers: {pro: {max_cu: 4}}`); a new tier must give every required field.
    """
    base = builtin_catalog()
    if path is None:
        return base
    raw: Any = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with 'orgs' and/or 'tiers'")
    orgs: dict[str, Any] = {k: v.model_dump() for k, v in base.orgs.items()}
    for alias, data in (raw.get("orgs") or {}).items():
        orgs[alias] = {**orgs.get(alias, {}), **data}
    tiers: dict[str, Any] = {k: v.model_dump() for k, v in base.tiers.items()}
    for name, data in (raw.get("tiers") or {}).items():
        merged = {**tiers.get(name, {}), **data, "name": name}
        for part in ("quota", "prices"):
            if part in data and name in tiers:
                merged[part] = {**tiers[name][part], **data[part]}
        tiers[name] = merged
    return Catalog.model_validate({"orgs": orgs, "tiers": tiers})
