"""The PostgreSQL fleet store seen through FleetManager's `FleetStore` protocol.

The same interface as `automation._store.FileFleetStore`, so every FleetManager operation
(moves, snapshots, dev branches, audit, monitoring's fleet listing) reads and writes the rows
in PostgreSQL mode: `put` is one row's upsert (its version bumped, `pending` until a run
applies it), `delete` drops one row, `load(tier, shard)` reads one shard's rows. Only
present rows are listed (a removal a worker has not applied yet is already out of the fleet).

`edit(tier, fn)` is the whole-fleet edit (fleet-level app revision and migration command,
issue 12): one transaction; rows it makes pending are reported to `on_pending(tier, shard)`
so their shards' runs get queued (workers only run shards with a queued job). Checkpoints
come and go with the spec (`PostgresFleetStore` keeps them in `nt_checkpoints`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from neon_tenants.automation._store import Placement
from neon_tenants.checkpoint import CheckpointRecord
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import FleetSpec
from neon_tenants.tenant.model import TenantSpec


class PostgresFleetView:
    """`FleetStore` over `PostgresFleetStore` (one short transaction per call)."""

    def __init__(
        self,
        rows: PostgresFleetStore,
        default_shards: Mapping[str, int] | None = None,
        *,
        on_pending: Callable[[str, int], None] | None = None,
    ) -> None:
        self.rows = rows
        self.default_shards = dict(default_shards or {})
        self.on_pending = on_pending

    def _shape(self, tier: str) -> tuple[int, str]:
        return self.rows.fleet_shape(tier) or (self.default_shards.get(tier, 1), "nt")

    def tiers(self) -> list[str]:
        return self.rows.tiers()

    def load(self, tier: str, shard: int | None = None) -> FleetSpec:
        shards, platform = self._shape(tier)
        if shard is None or shards <= 1:
            whole = self.rows.load_fleet(tier)
            return whole or FleetSpec(tier=tier, shards=shards, platform=platform)
        snap = self.rows.shard_snapshot(tier, shard, mark_applying=False)
        return snap.fleet()

    def placement(self, tier: str, tenant: str) -> Placement:
        shards, platform = self._shape(tier)
        record = self.rows.get(tier, tenant)
        if record is None or shards <= 1:
            return Placement.of(tier, shards, tenant, platform)
        return Placement(tier, shards, record.shard, platform)

    def get(self, tier: str, tenant: str) -> TenantSpec | None:
        record = self.rows.get(tier, tenant)
        return record.spec if record is not None and record.present else None

    def locate(self, tenant: str) -> list[tuple[Placement, TenantSpec]]:
        found: list[tuple[Placement, TenantSpec]] = []
        for record in self.rows.locate(tenant):
            if record.present:
                shards, platform = self._shape(record.tier)
                shard = record.shard if shards > 1 else None
                found.append((Placement(record.tier, shards, shard, platform), record.spec))
        return found

    def put(self, tier: str, tenant: TenantSpec) -> None:
        self.rows.ensure_fleet(tier, self.default_shards.get(tier, 1))
        if self.get(tier, tenant.id) != tenant:
            self.rows.request(tier, tenant)

    def delete(self, tier: str, tenant: str) -> None:
        self.rows.forget(tier, tenant)

    # batch forms (`_bulk.py` and rollout waves): one transaction, however many tenants

    def put_many(self, tier: str, tenants: list[TenantSpec]) -> None:
        self.rows.ensure_fleet(tier, self.default_shards.get(tier, 1))
        changed = [t for t in tenants if self.get(tier, t.id) != t]
        if changed:
            self.rows.request_many(tier, changed)

    def delete_many(self, tier: str, tenants: list[str]) -> None:
        self.rows.forget_many(tier, tenants)

    def edit(self, tier: str, edit: Callable[[FleetSpec], FleetSpec]) -> FleetSpec:
        """The whole fleet through `edit`, atomically (fleet-level fields, issue 12)."""
        self.rows.ensure_fleet(tier, self.default_shards.get(tier, 1))
        after, pending = self.rows.edit_fleet(tier, edit)
        if self.on_pending is not None:
            for shard in pending:
                self.on_pending(tier, shard)
        return after

    def checkpoint_history(self, tenant: str) -> list[CheckpointRecord]:
        """Every checkpoint recorded for the tenant, retired ones included (audit)."""
        return self.rows.checkpoint_history(tenant)

    def applied(
        self, tier: str, tenants: list[TenantSpec], fleet: FleetSpec | None = None
    ) -> None:
        """An in-process `up` applied these entries (built from `fleet`): their rows are
        `ready` unless changed meanwhile, fleet-level fields included (issue 11, 12)."""
        self.rows.mark_applied(tier, tenants, fleet)
