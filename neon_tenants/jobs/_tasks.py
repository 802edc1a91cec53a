"""The procrastinate app and its tasks: `run_shard(tier, shard)`, `run_operation(id)`.

Both locks are the shard's name. `lock` lets one job per shard run at a time across every
worker; `queueing_lock` keeps at most one *waiting* job per shard, so requests that arrive
while a shard runs collapse into the one next run, which reads every row committed before
it starts: sign-ups batch themselves (procrastinate docs, "Ensure tasks run sequentially"
and "Queueing locks").

`run_operation` (every FleetManager operation other than provision, `_ops.py`) takes the
same `lock` as the tenant's shard, and no queueing lock: each operation is its own job, run
in order with that shard's runs and operations, on whichever worker is free. A rollout walks
every shard of its tier: its lock is the tier's rollout lock (its engine runs are serialized
with the shards' runs by the engine's stack lock, as the rollout's waves always were).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from procrastinate import App, PsycopgConnector

if TYPE_CHECKING:
    from neon_tenants.db.store import PostgresFleetStore

log = logging.getLogger(__name__)

QUEUE = "neon-tenants-shards"
TASK_NAME = "neon_tenants.run_shard"
OPERATION_TASK = "neon_tenants.run_operation"

ShardHandler = Callable[[str, int, int | None], None]
"""(tier, shard, job id) -> None: what a worker does for one job (set by `make_app`)."""

OperationHandler = Callable[[int, int | None], None]
"""(operation id, job id) -> None: what a worker does for one queued operation."""


def shard_lock_name(tier: str, shard: int) -> str:
    return f"neon-tenants:{tier}:{shard:02d}"


def make_app(
    conninfo: str,
    handler: ShardHandler | None = None,
    operations: OperationHandler | None = None,
) -> App:
    """An App on `conninfo` with both tasks registered; `handler` runs shard jobs and
    `operations` operation jobs (workers pass them; a backend that only defers needs none)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo))

    @app.task(name=TASK_NAME, queue=QUEUE, pass_context=True)
    def run_shard(context: Any, tier: str, shard: int) -> None:
        if handler is None:  # pragma: no cover - a deferring-only app never runs jobs
            raise RuntimeError("this app only defers jobs")
        handler(tier, shard, context.job.id)

    @app.task(name=OPERATION_TASK, queue=QUEUE, pass_context=True)
    def run_operation(context: Any, operation: int) -> None:
        if operations is None:  # pragma: no cover - a deferring-only app never runs jobs
            raise RuntimeError("this worker does not run operations")
        operations(operation, context.job.id)

    return app


def rollout_lock_name(tier: str) -> str:
    return f"neon-tenants:{tier}:rollout"


def operation_locks(kind: str, tier: str, shard: int) -> tuple[str, str | None]:
    """procrastinate (lock, queueing_lock) of an operation's job: the shard's lock
    (serialized with its runs), no queueing lock; a rollout, which walks every shard of its
    tier, the tier's rollout lock as both (one rollout of a tier runs at a time)."""
    if kind == "rollout":
        name = rollout_lock_name(tier)
        return name, name
    return shard_lock_name(tier, shard), None


def defer_operation(app: App, tier: str, shard: int, operation: int, kind: str = "") -> int:
    """Queue one operation behind its lock (`operation_locks`); returns the job id."""
    lock, queueing_lock = operation_locks(kind, tier, shard)
    task = app.tasks[OPERATION_TASK]
    return int(task.configure(lock=lock, queueing_lock=queueing_lock).defer(
        operation=operation))


def defer_shard(app: App, tier: str, shard: int) -> int | None:
    """Queue a run of the shard; None when one is already waiting (it will see our row)."""
    from procrastinate.exceptions import AlreadyEnqueued

    name = shard_lock_name(tier, shard)
    task = app.tasks[TASK_NAME]
    try:
        return int(task.configure(lock=name, queueing_lock=name).defer(tier=tier, shard=shard))
    except AlreadyEnqueued:
        return None


STRANDED_AFTER = 30.0
"""Seconds a row may stay pending with no run of its shard queued before a worker queues one."""


async def requeue_stranded_shards(
    app: App, store: PostgresFleetStore, older_than: float = STRANDED_AFTER,
) -> list[tuple[str, int]]:
    """Queue a run for each shard that has rows left `pending`/`applying` and no job of
    its lock waiting or running (the replica that wrote them died before `defer_shard`;
    nothing else would ever apply them). The queueing lock makes a racing defer harmless.
    The workers' recovery loop calls it; returns the shards queued."""
    import asyncio

    from procrastinate.exceptions import AlreadyEnqueued

    shards = await asyncio.to_thread(store.unfinished_shards, older_than)
    if not shards:
        return []
    locks = {shard_lock_name(tier, shard): (tier, shard) for tier, shard in shards}
    # a tier's running rollout writes its waves' rows itself: its shards are not stranded
    rollouts = {rollout_lock_name(tier) for tier, _ in shards}
    rows = await app.connector.execute_query_all_async(
        "SELECT DISTINCT lock FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        " AND lock = ANY(%(locks)s)",
        locks=[*locks, *rollouts],
    )
    busy = {row["lock"] for row in rows}
    queued: list[tuple[str, int]] = []
    for name, (tier, shard) in locks.items():
        if name in busy or rollout_lock_name(tier) in busy:
            continue
        try:
            await app.tasks[TASK_NAME].configure(lock=name, queueing_lock=name).defer_async(
                tier=tier, shard=shard)
        except AlreadyEnqueued:  # a replica's defer won the race: that run will see the rows
            continue
        log.warning("queued a run of %s shard %s: rows pending with no job", tier, shard)
        queued.append((tier, shard))
    return queued
