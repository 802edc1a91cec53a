"""Shard runs on a PostgreSQL job queue (procrastinate), for the PostgreSQL mode (issue 11).

- `ShardQueue`: what a backend replica calls: validate, record the request as a row, defer
  the tenant's shard run, read status, wait.
- `run_worker`: `neon-tenants worker`: runs shard jobs (any number of workers, any hosts)
  and re-queues the jobs of workers that stopped sending heartbeats (`kill -9`).
"""

from __future__ import annotations

from neon_tenants.automation.models import TenantStatus
from neon_tenants.jobs._client import ShardQueue
from neon_tenants.jobs._tasks import QUEUE, make_app, shard_lock_name
from neon_tenants.jobs._worker import WorkerSettings, run_worker

__all__ = [
    "QUEUE",
    "ShardQueue",
    "TenantStatus",
    "WorkerSettings",
    "make_app",
    "run_worker",
    "shard_lock_name",
]
