"""One shard run in a worker: snapshot the shard's rows, `up` its stack, record the outcome.

`up` runs with `continue_on_error`, so one tenant whose resources fail does not stop the
others of its shard: the engine keeps applying every resource that does not depend on the
failed one. Failures are attributed to tenants from the engine's events (the failed
resource's URN names its tenant); those rows become `failed` with the error, the rest
`ready`. A run that fails without any tenant to blame (engine or backend trouble) puts the
rows back to `pending` and raises, so procrastinate records the job as failed and the next
request (or `neon-tenants worker`'s retry of stalled jobs) runs the shard again.

The engine's pending operations left by a killed run are resolved by the next `up`:
pending creates are dropped from state and the create is repeated, and our providers'
create adopts an existing project by name, so nothing is duplicated.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from neon_tenants.archive import ArchiveSettings
from neon_tenants.automation._workspace import Engine
from neon_tenants.automation.events import (
    ProgressEvent,
    StackProgress,
    TenantFailures,
    from_engine_event,
)
from neon_tenants.catalog import Catalog
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.program import build_program
from neon_tenants.fleet.sharding import stack_name
from neon_tenants.jobs._events import EventLog

EngineFactory = Callable[[], Engine]


class ShardRunner:
    """Runs shard jobs for one worker process (one work dir, one engine)."""

    def __init__(
        self,
        store: PostgresFleetStore,
        engine: EngineFactory,
        catalog: Catalog,
        *,
        on_run: Callable[[str, int, int], None] | None = None,
        on_error: Callable[[str, int], None] | None = None,
        archive: ArchiveSettings | None = None,
    ) -> None:
        self.store = store
        self._engine_factory = engine
        self._engine: Engine | None = None
        self.catalog = catalog
        self.on_run = on_run
        self.on_error = on_error
        self.archive = archive
        self.events: EventLog | None = None
        """Where the run's progress goes (each tenant's waiting callers read it)."""
        self._runs = 0

    def _publish(self, event: ProgressEvent) -> None:
        if self.events is None:
            return
        try:
            self.events.append(event)
        except Exception:  # noqa: BLE001 - progress is best effort; the run goes on
            pass

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine

    def __call__(self, tier: str, shard: int, job_id: int | None) -> None:
        # shared: runs of different shards go together; `reshard` waits for them, and
        # they wait for it (a half-moved tier must never be applied)
        with self.store.tier_lock(tier, exclusive=False):
            self._run(tier, shard, job_id)

    def _run(self, tier: str, shard: int, job_id: int | None) -> None:
        if self.events is not None and self._runs % 50 == 0:
            self.events.prune()  # bounded: about the last hour of progress
        self._runs += 1
        snap = self.store.shard_snapshot(tier, shard, mark_applying=True)
        run_id = self.store.record_run_start(
            tier, shard, job_id, socket.gethostname(), os.getpid(), len(snap.tenants)
        )
        name = stack_name(tier, shard, snap.shards)
        blame = TenantFailures()  # tenant -> error, from the engine events
        failed = blame.failed

        def collect(event: Any) -> None:
            step = from_engine_event(name, event)
            if step is not None and step.tenant is not None:
                self._publish(step)
            blame(event)

        try:
            # never `first_attempt`: a retried run may follow a killed one that created the
            # project already; the provider's look-up by name is what makes it adopt, not dup
            program = build_program(
                tier, shard if snap.shards > 1 else None, snap.fleet(), self.catalog,
                self.archive,
            )
            stack = self.engine.stack(name)
            self._publish(StackProgress(name, "engine_started", "up"))
            stack.up(program=program, on_event=collect, color="never", continue_on_error=True)
        except Exception as exc:
            if not failed:
                self.store.release_applying(tier, shard)
                self.store.record_run_end(run_id, f"error: {type(exc).__name__}")
                if self.on_error is not None:
                    self.on_error(tier, shard)
                raise
        self.store.finish_run(snap, failed)
        self._publish(StackProgress(name, "engine_done", "up"))
        if self.events is not None:
            for tenant in snap.versions:
                self.events.notify(tenant)
        outcome = "failed tenants: " + ",".join(sorted(failed)) if failed else "ok"
        self.store.record_run_end(run_id, outcome)
        if self.on_run is not None:
            self.on_run(tier, shard, len(snap.tenants))
