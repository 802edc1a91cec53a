"""`neon-tenants worker`: a procrastinate worker for shard jobs, plus stalled-job recovery.

Any number of workers on any number of hosts share the queue; each has its own work dir
and engine (nothing on disk is shared: state is in the database). A worker killed with
`kill -9` stops sending heartbeats; every worker checks, every `recover_every` seconds,
for jobs still `doing` on a worker silent for `stalled_after` seconds
(`JobManager.get_stalled_jobs`, procrastinate's documented recovery) and puts them back to
`todo`, or, when a run of that shard is already waiting (its queueing lock), closes the
dead one as failed: the waiting run applies the same rows. The Pulumi stack lock the dead
run left is cleared by `Engine.stack()` once its holder is known dead (_backend_locks): on
another host, once the worker named by its `nt_runs` row has been silent `stalled_after`
seconds, the same rule as stalled-job recovery (give every worker the same `--heartbeat`
and `--stalled-after`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neon_tenants.jobs._tasks import QUEUE, defer_shard, make_app, requeue_stranded_shards
from neon_tenants.monitoring.jobs import USAGE_QUEUE

log = logging.getLogger("neon_tenants.worker")


@dataclass(frozen=True)
class WorkerSettings:
    conninfo: str
    work_dir: Path
    name: str = field(default_factory=lambda: f"worker-{os.getpid()}")
    concurrency: int = 1
    heartbeat_every: float = 10.0
    stalled_after: float = 30.0
    recover_every: float = 10.0
    retry_delay_seconds: int = 10
    stacks_dir: Path | None = None
    neon_env: dict[str, str] = field(default_factory=dict)
    stop_when_idle: bool = False
    usage: bool = True  # also run the 15-minute usage cycle (its own queue and slot)


async def recover_stalled(app: object, stalled_after: float) -> list[int]:
    """Re-queue the jobs of dead workers; returns their ids."""
    from procrastinate import App, jobs
    from procrastinate.exceptions import ConnectorException

    assert isinstance(app, App)
    manager = app.job_manager
    recovered: list[int] = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        assert job.id is not None
        try:
            await manager.retry_job(job)
        except ConnectorException:
            # a run of this shard is already waiting (queueing lock): it will apply the rows
            await manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
        recovered.append(job.id)
        log.warning("re-queued stalled job %s (%s)", job.id, job.lock)
    return recovered


def require_postgres(stacks_dir: Path, tier: str) -> None:
    """Refuse a job of a tier whose stack config chooses the files store: its rows are not
    what infra teams' `pulumi up` of that tier applies (fleet/store_choice.py)."""
    from neon_tenants.fleet.store_choice import StoreConfigError, tier_store

    choice = tier_store(stacks_dir, tier)
    if choice.kind != "postgres":
        raise StoreConfigError(
            f"tier {tier} uses the files store here ({choice.why}, stacks dir {stacks_dir}): "
            "this worker runs postgres tiers only; set neon-tenants:fleetStore: postgres in "
            f"the tier's stack config (`neon-tenants fleet import --tier {tier}`)"
        )


def run_worker(settings: WorkerSettings) -> None:
    """Run until SIGINT/SIGTERM (or, with `stop_when_idle`, until the queue is empty)."""
    from neon_tenants.archive.resource import require_shared_dir, settings_from_env
    from neon_tenants.automation._backend_locks import STALLED_ENV
    from neon_tenants.automation._workspace import Engine, engine_env
    from neon_tenants.catalog import builtin_catalog, stack_catalog
    from neon_tenants.db.store import PostgresFleetStore
    from neon_tenants.jobs._op_run import OperationRunner, requeue_orphans
    from neon_tenants.jobs._run import ShardRunner

    # before anything else: one archive dir for every host, or no archive (ArchiveDirRequired)
    require_shared_dir({**os.environ, **settings.neon_env})
    # the one catalog loader (stack config `catalogFile`, else stacks/tiers.yaml)
    catalog = stack_catalog(settings.stacks_dir) if settings.stacks_dir else builtin_catalog()
    # each running job holds one connection for the tier lock and briefly one more
    store = PostgresFleetStore(settings.conninfo, max_size=2 * settings.concurrency + 1)
    env = engine_env(settings.neon_env)  # refuses the built-in passphrase before any job
    # a lock of another host's worker is stale once that worker is silent this long
    # (_backend_locks.RunHolders): the same threshold as our stalled-job recovery
    env.setdefault(STALLED_ENV, f"{settings.stalled_after:g}")
    # the archive dir is part of each tenant's archive step: give every worker the same
    # NEON_TENANTS_ARCHIVE_DIR, or runs on different hosts would keep rewriting it
    archive = settings_from_env(settings.work_dir, {**os.environ, **settings.neon_env})
    engines: list[Engine] = []
    engine_lock = threading.Lock()

    def engine() -> Engine:
        """One Engine (one workspace) for every shard job of this process, made on first
        use: with `concurrency` > 1 jobs of different shards run in threads at once, each
        its own stack, engine process and provider process (as FleetManager's parallel
        shards)."""
        with engine_lock:
            if not engines:
                engines.append(Engine(settings.work_dir, env))
            return engines[0]

    runner = ShardRunner(store, engine, catalog, archive=archive)
    operations = OperationRunner(
        settings.conninfo, settings.work_dir, catalog, stacks_dir=settings.stacks_dir,
        neon_env=settings.neon_env, archive=archive, concurrency=settings.concurrency,
    )
    runner.events = operations.events  # shard runs' progress reaches waiting callers too
    stacks_dir = settings.stacks_dir

    def run_job(tier: str, shard: int, job_id: int | None) -> None:
        if stacks_dir is not None:  # the one rule: this host's stack config must say postgres
            require_postgres(stacks_dir, tier)
        runner(tier, shard, job_id)

    app = make_app(settings.conninfo, run_job, operations)

    def retry_later(tier: str, shard: int) -> None:
        name = app.tasks["neon_tenants.run_shard"]
        from neon_tenants.jobs._tasks import shard_lock_name

        lock = shard_lock_name(tier, shard)
        try:
            name.configure(
                lock=lock, queueing_lock=lock,
                schedule_in={"seconds": settings.retry_delay_seconds},
            ).defer(tier=tier, shard=shard)
        except Exception:  # noqa: BLE001 - AlreadyEnqueued: a run is waiting anyway
            pass

    runner.on_error = retry_later

    async def main() -> None:
        async with app.open_async():

            async def recover_loop() -> None:
                while True:
                    try:
                        await recover_stalled(app, settings.stalled_after)
                        await requeue_orphans(app, operations.ops)
                        await requeue_stranded_shards(app, store)
                    except Exception:  # noqa: BLE001 - keep the worker alive; log it
                        log.exception("stalled-job recovery failed")
                    await asyncio.sleep(settings.recover_every)

            recovery = asyncio.create_task(recover_loop())
            common: dict[str, Any] = {
                "wait": not settings.stop_when_idle,
                "update_heartbeat_interval": settings.heartbeat_every,
                "stalled_worker_timeout": settings.stalled_after,
                "fetch_job_polling_interval": 1.0,
            }
            # the usage cycle paces itself for minutes: its own queue and worker (one slot),
            # so it never takes a shard job's slot; it stops with the shard worker
            usage = asyncio.create_task(app.run_worker_async(
                queues=[USAGE_QUEUE], name=f"{settings.name}-usage", concurrency=1,
                install_signal_handlers=False, **common,
            )) if settings.usage else None
            try:
                await app.run_worker_async(
                    queues=[QUEUE], name=settings.name, concurrency=settings.concurrency,
                    **common,
                )
            finally:
                recovery.cancel()
                if usage is not None:
                    if not settings.stop_when_idle:
                        usage.cancel()  # graceful: a running cycle finishes first
                    await asyncio.gather(usage, return_exceptions=True)

    cycle = _UsageCycle(settings) if settings.usage else None
    if cycle is not None:
        from neon_tenants.monitoring.jobs import register_usage_job

        register_usage_job(app, cycle)
    try:
        asyncio.run(main())
    finally:
        operations.close()
        store.close()
        if cycle is not None:
            cycle.close()


class _UsageCycle:
    """The usage cycle of `neon-tenants worker` (issue 13's service on the fleet of this
    host's stacks dir, readings in PostgreSQL), built at the first cycle so a problem in it
    fails that cycle, never the shard worker."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._service: Any = None
        self._closers: list[Any] = []

    def __call__(self) -> object:
        with self._lock:
            if self._service is None:
                from neon_tenants.automation import FleetManager
                from neon_tenants.monitoring.pg_store import PostgresUsageStore
                from neon_tenants.monitoring.wiring import build_service

                s = self.settings
                stacks = s.stacks_dir or s.work_dir / "stacks"
                store = PostgresUsageStore(s.conninfo)
                self._closers.append(store.close)
                fm = FleetManager(stacks, work_dir=s.work_dir, neon_env=s.neon_env)
                self._closers.append(fm.close)
                self._service = build_service(fm, store=store)
            return self._service.run_once()

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


__all__ = ["WorkerSettings", "defer_shard", "recover_stalled", "run_worker"]
