"""What a backend replica calls in the PostgreSQL mode: request, submit, status, wait.

`request` validates everything a shard run would (tier, tenant id, overrides within the
tier, dev branches, snapshots: the providers' own `TenantDatabaseArgs` rules) BEFORE it
writes the row or queues a job, so bad input is a 422 with nothing queued. Then it commits
the row (one short transaction) and defers the shard's run; the commit comes first, so
the run that picks the job up always sees the row (issue 11: batching).

`submit` queues any other operation (`_ops.py`): its caller validated it first. `status`
reports the tenant's last request, a row request or an operation, whichever is newer;
`wait` follows it to the end, handing the worker's progress events (`_events.py`) to
`on_event` as they arrive (LISTEN/NOTIFY wakes it; a poll is the fallback).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from neon_tenants.automation._errors import InvalidRequest, TenantNotFound, WaitTimeout
from neon_tenants.automation.events import ProgressCallback, ProgressEvent, StackProgress
from neon_tenants.automation.models import TenantStatus, TenantStatusName
from neon_tenants.fleet.program import tenant_args
from neon_tenants.fleet.sharding import shard_of, stack_name
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs._events import EventLog, listening, sleep_until_notified
from neon_tenants.jobs._ops import Operation, OperationStore
from neon_tenants.jobs._tasks import defer_operation, defer_shard, make_app

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
        self.conninfo = conninfo
        self._app = make_app(conninfo)
        self._opened = False
        self.ops = OperationStore(conninfo)
        self.events = EventLog(conninfo)

    def _queue(self) -> object:
        if not self._opened:
            self._app.open()
            self._opened = True
        return self._app

    def close(self) -> None:
        if self._opened:
            self._app.close()
            self._opened = False
        self.ops.close()
        self.events.close()

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

    def request(self, tier: str, spec: TenantSpec, *, default: bool = False) -> TenantStatus:
        """Record the tenant's wanted state and queue its shard's run (never blocks on it).
        `default`: `spec` is the tier's default (the caller named none): a tenant already
        in the tier keeps its own spec, and a ready one is returned as it is, no job queued
        (`PostgresFleetStore.request_default`)."""
        self._validated(tier, spec)
        others = [r for r in self.store.locate(spec.id) if r.tier != tier and r.present]
        if others:
            from neon_tenants.automation._errors import TenantConflict

            raise TenantConflict(
                f"tenant {spec.id!r} is in tier {others[0].tier}; use upgrade/downgrade",
                tier=others[0].tier,
            )
        self.store.ensure_fleet(tier, self.default_shards.get(tier, 1))
        if default:
            record = self.store.request_default(tier, spec)
        else:
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

    def submit(
        self, kind: str, tenant: str, tier: str, shard: int, stack: str,
        args: Mapping[str, object],
    ) -> Operation:
        """Record a validated operation and queue it behind the shard's lock."""
        op = self.ops.create(tenant, tier, stack, kind, args)
        try:
            job = defer_operation(self._queue(), tier, shard, op.id, kind)  # type: ignore[arg-type]
        except Exception as exc:
            self.ops.fail(op.id, exc)
            raise
        self.ops.set_job(op.id, job)
        return op

    # -- status -----------------------------------------------------------------------------

    def status(self, tenant: str) -> TenantStatus:
        """The tenant's last request: an unfinished operation; else its row while a row
        request is queued or came after the last operation; else that operation's outcome.
        (An operation writes its tenant's row itself, so a row written while it ran is its
        own doing, and it marks that row `ready` or `failed` before it finishes.)"""
        records = self.store.locate(tenant)
        op = self.ops.latest(tenant)
        if op is not None and not op.finished:
            return self._op_status(op, records[0] if records else None)
        if records and (
            op is None or records[0].status in ("pending", "applying")
            or (op.finished_at is not None and records[0].requested_at > op.finished_at)
        ):
            return self._status(records[0])
        if op is None:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return self._op_status(op, records[0] if records else None)

    def row_status(self, tenant: str) -> TenantStatus:
        """The tenant's row alone (where it lives, how its last row request ended),
        whatever happened to its later operations (a failed snapshot does not hide it)."""
        records = self.store.locate(tenant)
        if not records:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return self._status(records[0])

    def wait(
        self, tenant: str, timeout: float = 600.0, *, poll: float = 0.5,
    ) -> TenantStatus:
        """Until `ready`, `failed` or `deleted`; the worker's events on the way."""
        deadline = time.monotonic() + timeout
        last: str | None = None
        cursor = 0
        with listening(self.conninfo) as conn:
            while True:
                try:
                    current = self.status(tenant)
                except TenantNotFound:
                    return TenantStatus(tenant=tenant, tier="", shard=0, stack="",
                                        status="deleted")
                cursor = self._forward(current, cursor)
                if current.status != last and self.on_event is not None:
                    self.on_event(StackProgress(current.stack, "imperative", current.status))
                last = current.status
                if current.status in ("ready", "failed", "deleted"):
                    return current
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(
                        f"tenant {tenant!r} is still {current.status} after {timeout:.0f}s; "
                        "its request stays queued", status=current.status,
                    )
                sleep_until_notified(conn, tenant, min(poll, left))

    def follow(self, operation: int, timeout: float = 600.0, *, poll: float = 0.5) -> Operation:
        """Until the operation is `done` or `failed` (returned, not raised), forwarding its
        events; WaitTimeout (504) leaves it queued."""
        deadline = time.monotonic() + timeout
        cursor = 0
        with listening(self.conninfo) as conn:
            while True:
                op = self.ops.get(operation)
                if op is None:
                    raise TenantNotFound(f"operation {operation} is not recorded (pruned?)")
                cursor = self._forward_op(op.id, cursor)
                if op.finished:
                    return op
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WaitTimeout(
                        f"operation {op.id} ({op.kind} {op.tenant_id}) is still {op.status} "
                        f"after {timeout:.0f}s; it stays queued", status=op.status,
                    )
                sleep_until_notified(conn, op.tenant_id, min(poll, left))

    def _forward(self, current: TenantStatus, cursor: int) -> int:
        if current.operation is not None:
            return self._forward_op(current.operation, cursor)
        if self.on_event is None:
            return cursor
        found = self.events.for_tenant(current.tenant, current.stack, cursor,
                                       None if cursor else current.requested_at)
        return self._emit_all(found, cursor)

    def _forward_op(self, operation: int, cursor: int) -> int:
        if self.on_event is None:
            return cursor
        return self._emit_all(self.events.for_operation(operation, cursor), cursor)

    def _emit_all(self, found: list[tuple[int, ProgressEvent]], cursor: int) -> int:
        """Hand the events to `on_event`; returns the new cursor (the last id)."""
        for event_id, event in found:
            if self.on_event is not None:
                self.on_event(event)
            cursor = event_id
        return cursor

    def _op_status(self, op: Operation, record: TenantRecord | None) -> TenantStatus:
        """The operation's progress, placed where the tenant's row is now (a tier move
        ends in the target tier's stack)."""
        where = self._status(record) if record is not None else None
        status: TenantStatusName = {
            "queued": "pending", "running": "applying", "failed": "failed",
        }.get(op.status, "ready")  # type: ignore[assignment]
        if op.status == "done" and op.kind == "delete" and (record is None or not
                                                           record.present):
            status = "deleted"
        return TenantStatus(
            tenant=op.tenant_id,
            tier=where.tier if where else op.tier,
            shard=where.shard if where else 0,
            stack=where.stack if where else op.stack,
            status=status,
            error=op.error,
            version=where.version if where else 0,
            requested_at=op.created_at,
            updated_at=op.finished_at or op.started_at or op.created_at,
            operation=op.id,
            kind=op.kind,
        )

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
