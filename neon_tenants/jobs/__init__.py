"""Shard runs and operations on a PostgreSQL job queue (procrastinate), for the PostgreSQL
mode (issue 11).

- `ShardQueue`: what a backend replica calls: validate, record the request as a row, defer
  the tenant's shard run (or submit an operation, `_ops.py`), read status, wait (with the
  workers' progress events, `_events.py`).
- `run_worker`: `neon-tenants worker`: runs shard jobs and operations (`_op_run.py`, batched
  per stack by `_op_batch.py`) on any number of workers and hosts, and re-queues the jobs of
  workers that stopped sending heartbeats (`kill -9`) and operations left without a job.
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
