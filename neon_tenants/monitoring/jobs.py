"""The usage cycle as a periodic job on the PostgreSQL queue (procrastinate, issue 11's queue).

`register_usage_job(app, run_cycle)` adds a task on its own queue, deferred every 15 minutes
by procrastinate's periodic deferrer (one defer per tick across every worker: procrastinate
records each (task, periodic_id, timestamp) once). `lock` lets one cycle run at a time over
all workers and `queueing_lock` keeps at most one waiting, so a slow cycle is never stacked.
`neon-tenants worker --usage` runs a worker for this queue only (`run_usage_worker`): the
cycle paces itself for minutes (30 consumption requests/min), so it never holds a shard
worker's slot. No cleanup step runs there (a delete in the PostgreSQL mode waits for a shard
worker); `usage watch --inactive-days` does the cleanup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neon_tenants.jobs import WorkerSettings
    from neon_tenants.monitoring.poller import PollerConfig
    from neon_tenants.monitoring.rules import AlertRules

USAGE_QUEUE = "neon-tenants-usage"
USAGE_TASK = "neon_tenants.usage_cycle"
USAGE_LOCK = "neon-tenants:usage"
EVERY_15_MINUTES = "*/15 * * * *"


def register_usage_job(
    app: Any, run_cycle: Callable[[], object], cron: str = EVERY_15_MINUTES
) -> Any:
    """Register the periodic task on `app` (a procrastinate App); returns the task."""

    @app.periodic(cron=cron, periodic_id="usage-cycle")  # type: ignore[untyped-decorator]
    @app.task(name=USAGE_TASK, queue=USAGE_QUEUE, lock=USAGE_LOCK,
              queueing_lock=USAGE_LOCK)  # type: ignore[untyped-decorator]  # fmt: skip
    def usage_cycle(timestamp: int) -> None:
        del timestamp  # the cycle reads "now" itself; the tick only schedules it
        run_cycle()

    return usage_cycle


def run_usage_worker(
    settings: WorkerSettings,
    *,
    config: PollerConfig | None = None,
    rules: AlertRules | None = None,
    cron: str = EVERY_15_MINUTES,
) -> None:
    """A procrastinate worker for the usage queue: the fleet (and its store) from a
    FleetManager on the same database, readings in PostgreSQL. Runs until SIGINT/SIGTERM, or
    with `stop_when_idle` until the queue is empty."""
    from procrastinate import App, PsycopgConnector

    from neon_tenants.automation import FleetManager
    from neon_tenants.monitoring.pg_store import PostgresUsageStore
    from neon_tenants.monitoring.wiring import build_service

    stacks = settings.stacks_dir or settings.work_dir / "stacks"
    store = PostgresUsageStore(settings.conninfo)
    try:
        with FleetManager(stacks, work_dir=settings.work_dir, neon_env=settings.neon_env) as fm:
            service = build_service(fm, config=config, rules=rules, store=store)
            app = App(connector=PsycopgConnector(conninfo=settings.conninfo))
            register_usage_job(app, service.run_once, cron)
            with app.open():
                app.run_worker(queues=[USAGE_QUEUE], name=settings.name,
                               wait=not settings.stop_when_idle,
                               install_signal_handlers=not settings.stop_when_idle)
    finally:
        store.close()
