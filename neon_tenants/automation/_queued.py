"""FleetManager's asynchronous side: `provision(wait=False)`, `status`, `wait` (issue 11).

PostgreSQL mode (`NEON_TENANTS_DATABASE_URL` set): requests become rows of the PostgreSQL
fleet store and shard jobs on the queue; `neon-tenants worker` processes (any host) run the
engine. This process never runs `up` itself for these calls, and waiting is polling the
tenant's row. Embedded default (no URL): the call runs in-process as before; `wait=False`
then returns the status after the run (there is no queue to hand the work to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from neon_tenants.automation._core import FleetCore
from neon_tenants.automation._errors import DeploymentFailed, TenantNotFound, translate
from neon_tenants.automation.models import TenantConnection, TenantStatus
from neon_tenants.fleet.sharding import shard_for
from neon_tenants.fleet.spec import TenantSpec

if TYPE_CHECKING:
    from neon_tenants.automation._store import Placement
    from neon_tenants.jobs import ShardQueue
    from neon_tenants.jobs._ops import Operation


class QueuedOps(FleetCore):
    """The PostgreSQL mode's queue, built on first use; None in the embedded default."""

    _queue: ShardQueue | None = None
    _queue_checked = False

    @property
    def queue(self) -> ShardQueue | None:
        with self._init_lock:
            if not self._queue_checked:
                self._queue_checked = True
                self._queue = self._open_queue()
            return self._queue

    def _open_queue(self) -> ShardQueue | None:
        if self.run_here:
            return None
        url = self.store_choice.url  # the tiers' stack config chose postgres
        if url is None:
            return None
        # import here: the queue imports this package's errors and models (a cycle)
        from neon_tenants.db.store import PostgresFleetStore
        from neon_tenants.jobs import ShardQueue

        store = PostgresFleetStore(url.conninfo())
        return ShardQueue(
            store, url.conninfo(), self.catalog, default_shards=self.default_shards,
            on_event=self.on_event,
        )

    def close(self) -> None:
        super().close()
        with self._init_lock:
            queue, self._queue = self._queue, None
        if queue is not None:
            queue.close()
            queue.store.close()

    def _shard_pending(self, tier: str, shard: int) -> None:
        """A whole-fleet edit (a new fleet app revision) made rows of the shard pending:
        queue its run, or no worker would ever apply them."""
        queue = self.queue
        if queue is not None:
            from neon_tenants.jobs._tasks import defer_shard

            defer_shard(queue._queue(), tier, shard)  # type: ignore[arg-type]

    # -- API ------------------------------------------------------------------------------

    def status(self, tenant: str) -> TenantStatus:
        """pending | applying | ready | failed (with `error`)."""
        queue = self.queue
        if queue is not None:
            return queue.status(tenant)
        found = self.locate(tenant)
        if found is None:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        fleet, _ = found
        stack = self.stack_of(fleet, tenant)
        ready = bool(self._outputs(stack).get(tenant))
        return TenantStatus(
            tenant=tenant, tier=fleet.tier, shard=shard_for(fleet, tenant) or 0, stack=stack,
            status="ready" if ready else "pending",
        )

    def wait(self, tenant: str, timeout: float = 600.0) -> TenantStatus:
        """Until the tenant's last request is `ready` or `failed` (WaitTimeout: 504)."""
        queue = self.queue
        if queue is not None:
            return queue.wait(tenant, timeout)
        return self.status(tenant)

    def _request(
        self, tier: str, spec: TenantSpec, wait: bool, timeout: float, *, default: bool = False,
    ) -> TenantStatus:
        queue = self.queue
        assert queue is not None
        status = queue.request(tier, spec, default=default)
        if wait and status.status != "ready":
            status = queue.wait(spec.id, timeout)
        return status

    def _enqueue(
        self, kind: str, where: Placement, tenant: str, args: Mapping[str, object],
        wait: bool, timeout: float,
    ) -> Operation | TenantStatus:
        """Queue a validated operation; with `wait`, follow it to the end and raise its
        error (the worker's FleetError class), else return its status at once."""
        queue = self.queue
        assert queue is not None
        op = queue.submit(kind, tenant, where.tier, where.shard or 0, where.stack, args)
        if not wait:
            return queue.status(tenant)
        done = queue.follow(op.id, timeout)
        done.raise_error()
        return done

    def _connected(self, tenant: str) -> TenantConnection:
        """The tenant's connection after a queued operation (read from its stack outputs)."""
        queue = self.queue
        assert queue is not None
        return self._connection_of(queue.row_status(tenant))

    def _connection_of(self, status: TenantStatus) -> TenantConnection:
        if status.status == "failed":
            raise DeploymentFailed(
                f"tenant {status.tenant!r} failed on {status.stack}: {status.error}",
                stack=status.stack,
            )
        try:
            value = self._outputs(status.stack).get(status.tenant)
        except Exception as exc:  # noqa: BLE001 - translated in one place
            raise translate(exc, stack=status.stack) from exc
        if not value:
            raise TenantNotFound(f"tenant {status.tenant!r} has no outputs in {status.stack}")
        return TenantConnection.from_output(status.tenant, status.tier, status.stack, value)
