"""What a backend replica calls in the PostgreSQL mode: request, status, wait.

`request` validates everything a shard run would (tier, tenant id, overrides within the
tier, dev branches, snapshots: the providers' own `TenantDatabaseArgs` rules) BEFORE it
writes the row or queues a job, so bad input is a 422 with nothing queued. Then it commits
the row (one short transaction) and defers the shard's run; the commit comes first, so
the run that picks the job up always sees the row (issue 11: batching).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from neon_tenants.automation._errors import InvalidRequest, TenantNotFound, WaitTimeout
from neon_tenants.automation.events import ProgressCallback, StackProgress
from neon_tenants.automation.models import TenantStatus, TenantStatusName
from neon_tenants.fleet.program import tenant_args
from neon_tenants.fleet.sharding import shard_of, stack_name
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs._tasks import defer_shard, make_app

if TYPE_CHECKING:
    from neon_tenants.catalog import Catalog
    from neon_tenants.db.store import PostgresFleetStore, TenantRecord

class ShardQueue:
    """Requests through the database and the job queue (no engine in this process)."""

    def __init__(
        self,
        store: PostgresFleetStore,
        conninfo: str,
        catalog: Catalog,
        *,
        default_shards: dict[str, int] | None = None,
        on_event: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.default_shards = dict(default_shards or {})
        self.on_event = on_event
        self._app = make_app(conninfo)
        self._opened = False

    def _queue(self) -> object:
        if not self._opened:
            self._app.open()
            self._opened = True
        return self._app

    def close(self) -> None:
        if self._opened:
            self._app.close()
            self._opened = False

    # -- requests ---------------------------------------------------------------------------

    def _validated(self, tier: str, spec: TenantSpec) -> None:
        model = self.catalog.tiers.get(tier)
        if model is None:
            known = ", ".join(sorted(self.catalog.tiers))
            raise InvalidRequest(f"unknown tier {tier!r}; known tiers: {known}")
        shape = self.store.fleet_shape(tier)
        platform = shape[1] if shape else "nt"
        try:
            tenant_args(spec, model, platform, self.catalog.orgs.get(model.org))
        except ValueError as exc:
            raise InvalidRequest(f"tier {tier}: {exc}") from exc

    def request(self, tier: str, spec: TenantSpec) -> TenantStatus:
        """Record the tenant's wanted state and queue its shard's run (never blocks on it)."""
        self._validated(tier, spec)
        others = [r for r in self.store.locate(spec.id) if r.tier != tier and r.present]
        if others:
            from neon_tenants.automation._errors import TenantConflict

            raise TenantConflict(
                f"tenant {spec.id!r} is in tier {others[0].tier}; use upgrade/downgrade",
                tier=others[0].tier,
            )
        self.store.ensure_fleet(tier, self.default_shards.get(tier, 1))
        record = self.store.request(tier, spec)
        if record.status != "ready":
            defer_shard(self._queue(), tier, record.shard)  # type: ignore[arg-type]
        return self._status(record)

    def remove(self, tier: str, tenant: str) -> TenantStatus:
        record = self.store.remove(tier, tenant)
        if record is None:
            raise TenantNotFound(f"tenant {tenant!r} is not in the {tier} fleet")
        defer_shard(self._queue(), tier, record.shard)  # type: ignore[arg-type]
        return self._status(record)

    # -- status -----------------------------------------------------------------------------

    def status(self, tenant: str) -> TenantStatus:
        records = self.store.locate(tenant)
        if not records:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return self._status(records[0])

    def wait(
        self, tenant: str, timeout: float = 600.0, *, poll: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TenantStatus:
        """Until `ready` or `failed` (or deleted, for a removal); events on each change."""
        deadline = time.monotonic() + timeout
        last: str | None = None
        while True:
            try:
                current = self.status(tenant)
            except TenantNotFound:
                return TenantStatus(tenant=tenant, tier="", shard=0, stack="", status="deleted")
            if current.status != last and self.on_event is not None:
                self.on_event(StackProgress(current.stack, "imperative", current.status))
            last = current.status
            if current.status in ("ready", "failed"):
                return current
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"tenant {tenant!r} is still {current.status} after {timeout:.0f}s; "
                    "its request stays queued", status=current.status,
                )
            sleep(poll)

    def _status(self, record: TenantRecord) -> TenantStatus:
        shape = self.store.fleet_shape(record.tier)
        shards = shape[0] if shape else 1
        status: TenantStatusName = record.status
        if not record.present and record.status == "ready":
            status = "deleted"
        return TenantStatus(
            tenant=record.tenant_id,
            tier=record.tier,
            shard=record.shard,
            stack=stack_name(record.tier, record.shard if shards > 1 else None, shards),
            status=status,
            error=record.error,
            version=record.version,
            requested_at=record.requested_at,
            updated_at=record.updated_at,
        )


__all__ = ["ShardQueue", "TenantStatus", "WaitTimeout", "shard_of"]
