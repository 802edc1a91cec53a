"""The usage cycle as a periodic job on the PostgreSQL queue (procrastinate, issue 11's queue).

`register_usage_job(app, run_cycle)` adds a task on its own queue, deferred every 15 minutes
by procrastinate's periodic deferrer (one defer per tick across every worker: procrastinate
records each (task, periodic_id, timestamp) once). `lock` lets one cycle run at a time over
all workers and `queueing_lock` keeps at most one waiting, so a slow cycle is never stacked.
A worker serves it when it listens on `USAGE_QUEUE` (`neon-tenants worker --usage`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
