"""The fleet store: where the declared tenants live, one tenant entry at a time.

`FleetStore` is the small per-tenant Protocol the operations are written against (STYLE.md
review step 2): load a shard's tenants, locate a tenant, put or delete ONE entry. A
PostgreSQL implementation keeps one row per tenant (issue 11); `FileFleetStore` is today's
`stacks/fleets/<tier>.yaml`, which infra teams' `pulumi up` reads too.

Callers validate BEFORE `put` (tenant.rules), so a refused request never touches the store:
the file stays byte-for-byte what it was (issue 10 item 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from neon_tenants.automation._locks import shard_lock
from neon_tenants.fleet.sharding import shard_of, stack_name
from neon_tenants.fleet.spec import FleetSpec, load_fleet, save_fleet
from neon_tenants.tenant.model import TenantSpec


@dataclass(frozen=True)
class Placement:
    """Where a tenant lives: tier, the tier's shard count, its shard and stack (resolved once
    and passed down, instead of recomputing the shard from `(tier, tenant)` strings)."""

    tier: str
    shards: int
    shard: int | None
    platform: str = "nt"

    @property
    def stack(self) -> str:
        return stack_name(self.tier, self.shard, self.shards)

    @classmethod
    def of(cls, tier: str, shards: int, tenant: str, platform: str = "nt") -> Placement:
        return cls(tier, shards, None if shards <= 1 else shard_of(tenant, shards), platform)


@runtime_checkable
class FleetStore(Protocol):
    """The declared fleet, per tenant. Implementations make `put`/`delete` atomic per tenant
    and safe against concurrent writers of other tenants of the same tier."""

    def tiers(self) -> list[str]:
        """Tiers that have a fleet (possibly empty)."""
        ...

    def load(self, tier: str, shard: int | None = None) -> FleetSpec:
        """The tier's fleet (shard count, platform) with the tenants of `shard` (all if None)."""
        ...

    def placement(self, tier: str, tenant: str) -> Placement:
        """Where `tenant` lives or would live in `tier` (it need not be there yet)."""
        ...

    def get(self, tier: str, tenant: str) -> TenantSpec | None:
        ...

    def locate(self, tenant: str) -> list[tuple[Placement, TenantSpec]]:
        """Every tier listing the tenant: one, or two while a tier move is unfinished."""
        ...

    def put(self, tier: str, tenant: TenantSpec) -> None:
        """Add or replace ONE tenant entry (no write when it is unchanged)."""
        ...

    def delete(self, tier: str, tenant: str) -> None:
        """Remove ONE tenant entry (no write when it is absent)."""
        ...


class FileFleetStore:
    """`<stacks_dir>/fleets/<tier>.yaml`, rewritten atomically under a per-tier file lock."""

    def __init__(
        self, stacks_dir: Path, lock_dir: Path, default_shards: Mapping[str, int] | None = None
    ) -> None:
        self.stacks_dir = Path(stacks_dir)
        self.lock_dir = Path(lock_dir)
        self.default_shards = dict(default_shards or {})

    def path(self, tier: str) -> Path:
        return self.stacks_dir / "fleets" / f"{tier}.yaml"

    def tiers(self) -> list[str]:
        return sorted(p.stem for p in (self.stacks_dir / "fleets").glob("*.yaml"))

    def _fleet(self, tier: str) -> FleetSpec:
        return load_fleet(self.path(tier), tier=tier, shards=self.default_shards.get(tier, 1))

    def load(self, tier: str, shard: int | None = None) -> FleetSpec:
        fleet = self._fleet(tier)
        if shard is None or fleet.shards <= 1:
            return fleet
        kept = tuple(t for t in fleet.tenants if shard_of(t.id, fleet.shards) == shard)
        return fleet.model_copy(update={"tenants": kept})

    def placement(self, tier: str, tenant: str) -> Placement:
        fleet = self._fleet(tier)
        return Placement.of(tier, fleet.shards, tenant, fleet.platform)

    def get(self, tier: str, tenant: str) -> TenantSpec | None:
        return self._fleet(tier).get(tenant)

    def locate(self, tenant: str) -> list[tuple[Placement, TenantSpec]]:
        found: list[tuple[Placement, TenantSpec]] = []
        for tier in self.tiers():
            fleet = self._fleet(tier)
            spec = fleet.get(tenant)
            if spec is not None:
                found.append((Placement.of(tier, fleet.shards, tenant, fleet.platform), spec))
        return found

    def put(self, tier: str, tenant: TenantSpec) -> None:
        self.put_many(tier, [tenant])

    def delete(self, tier: str, tenant: str) -> None:
        self.delete_many(tier, [tenant])

    def edit(self, tier: str, edit: Callable[[FleetSpec], FleetSpec]) -> FleetSpec:
        """The whole fleet through `edit`, atomically (fleet-level fields, issue 12)."""
        with shard_lock(self.lock_dir, f"fleet-{tier}"):
            before = self._fleet(tier)
            after = edit(before)
            if after != before:
                save_fleet(self.path(tier), after)
            return after

    # batch forms (optional for other stores: callers fall back to one call per tenant);
    # one file rewrite for a bulk move instead of one per tenant

    def put_many(self, tier: str, tenants: list[TenantSpec]) -> None:
        with shard_lock(self.lock_dir, f"fleet-{tier}"):
            before = self._fleet(tier)
            after = before
            for tenant in tenants:
                after = after.with_tenant(tenant)
            if after != before:
                save_fleet(self.path(tier), after)

    def delete_many(self, tier: str, tenants: list[str]) -> None:
        with shard_lock(self.lock_dir, f"fleet-{tier}"):
            before = self._fleet(tier)
            gone = set(tenants)
            if any(t.id in gone for t in before.tenants):
                kept = tuple(t for t in before.tenants if t.id not in gone)
                save_fleet(self.path(tier), before.model_copy(update={"tenants": kept}))
