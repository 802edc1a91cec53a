"""Queued operations (issue 11): every FleetManager operation other than provision, as a row.

A backend replica validates the request, writes an `nt_operations` row (`queued`) and defers
a `run_operation` job whose procrastinate `lock` is the tenant's shard lock name, so it runs
serialized with that shard's runs and other operations, on any worker. The worker marks it
`running`, runs the operation in its own process (FleetManager(run_here=True)) and records
`done` with its result, or `failed` with the error's class, message and details, which the
caller's `wait` raises again as the same FleetError (ArchiveFailed stays a 502,
LimitsExceeded a 409 with its numbers). A worker killed mid-operation leaves it `running`:
stalled-job recovery re-queues the job, and the operation (idempotent: each one converges
on a rerun) runs again; `attempts` counts the runs.

Results never hold a secret: an operation returning a connection records only that it did
(`{"type": "connection"}`), and the caller reads the stack's outputs, like `show`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from neon_tenants.automation import _errors
from neon_tenants.db._pool import PooledStore
from neon_tenants.db._url import scrub_for

OperationStatus = Literal["queued", "running", "done", "failed"]

OPERATION_KINDS = (
    "upgrade",
    "downgrade",
    "restore",
    "snapshot",
    "restore_snapshot",
    "create_dev_branch",
    "reset_dev_branch",
    "delete_dev_branch",
    "checkpoint",
    "rollback",
    "delete",
    "rollout",
    "move_many",
    "repair",
    "restore_archive",
)

TIER_KINDS = ("rollout",)
"""Operations on a whole tier: their row's `tenant_id` is `tier_key(tier)` (never a tenant
id: those have no ':'), at most one unfinished per tier (`OperationStore.create`)."""


MULTI_TENANT_KINDS = (*TIER_KINDS, "move_many", "repair")
"""Operations on many tenants: every progress event of their run is theirs."""


def tier_key(tier: str) -> str:
    return f"tier:{tier}"


class Operation(BaseModel):
    """One queued operation and how far it got."""

    model_config = ConfigDict(frozen=True)

    id: int
    tenant_id: str
    tier: str
    stack: str
    kind: str
    args: dict[str, Any]
    status: OperationStatus
    error: str | None = None
    error_kind: str | None = None
    error_details: dict[str, Any] | None = None
    result: Any = None
    job_id: int | None = None
    attempts: int = 0
    host: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def raise_error(self) -> None:
        """The worker's FleetError again, same class (hence same http_status)."""
        if self.status != "failed":
            return
        kind = getattr(_errors, self.error_kind or "", None)
        if not (isinstance(kind, type) and issubclass(kind, _errors.FleetError)):
            kind = _errors.FleetError
        raise kind(self.error or "operation failed", **(self.error_details or {}),
                   operation=self.id)


class OperationStore(PooledStore):
    """`nt_operations`, one short transaction per call."""

    def __init__(self, conninfo: str, *, max_size: int = 2) -> None:
        super().__init__(conninfo, max_size=max_size)
        self._scrub = scrub_for(conninfo)

    def create(
        self, tenant: str, tier: str, stack: str, kind: str, args: Mapping[str, Any]
    ) -> Operation:
        if kind not in OPERATION_KINDS:
            raise ValueError(f"unknown operation {kind!r}")
        with self._tx() as cur:
            if kind in TIER_KINDS:  # one at a time per tier: checked and recorded atomically
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{kind}:{tier}",))
                busy = cur.execute(
                    "SELECT id, status FROM nt_operations WHERE kind = %s AND tier = %s"
                    " AND status IN ('queued', 'running') ORDER BY id LIMIT 1", (kind, tier),
                ).fetchone()
                if busy is not None:
                    raise _errors.OperationInProgress(
                        f"tier {tier}: {kind} {busy['id']} is still {busy['status']}; wait for "
                        "it to finish first", tier=tier, operation=busy["id"],
                    )
            row = cur.execute(
                "INSERT INTO nt_operations (tenant_id, tier, stack, kind, args)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING *",
                (tenant, tier, stack, kind, Jsonb(dict(args))),
            ).fetchone()
        assert row is not None
        return Operation.model_validate(row)

    def set_job(self, operation: int, job_id: int) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE nt_operations SET job_id = %s WHERE id = %s", (job_id, operation))

    def get(self, operation: int) -> Operation | None:
        with self._tx() as cur:
            row = cur.execute("SELECT * FROM nt_operations WHERE id = %s", (operation,)).fetchone()
        return Operation.model_validate(row) if row else None

    def latest(self, tenant: str) -> Operation | None:
        with self._tx() as cur:
            row = cur.execute(
                "SELECT * FROM nt_operations WHERE tenant_id = %s ORDER BY id DESC LIMIT 1",
                (tenant,),
            ).fetchone()
        return Operation.model_validate(row) if row else None

    def start(self, operation: int) -> Operation | None:
        """`running` on this host (`host:pid`; again, after a killed attempt); None when it
        is finished already (a retried job of an operation that completed)."""
        with self._tx() as cur:
            row = cur.execute(
                "UPDATE nt_operations SET status = 'running', attempts = attempts + 1,"
                " host = %s, started_at = now() WHERE id = %s"
                " AND status IN ('queued', 'running') RETURNING *",
                (f"{socket.gethostname()}:{os.getpid()}", operation),
            ).fetchone()
        return Operation.model_validate(row) if row else None

    def claim(self, stack: str, kinds: tuple[str, ...], besides: int) -> list[Operation]:
        """The other operations of these kinds still queued for `stack`, now `running`
        here (in request order; rows another worker is claiming are skipped)."""
        with self._tx() as cur:
            rows = cur.execute(
                "UPDATE nt_operations SET status = 'running', attempts = attempts + 1,"
                " host = %s, started_at = now() WHERE id IN ("
                " SELECT id FROM nt_operations WHERE status = 'queued' AND stack = %s"
                " AND kind = ANY(%s) AND id <> %s ORDER BY id LIMIT 100"
                " FOR UPDATE SKIP LOCKED) RETURNING *",
                (f"{socket.gethostname()}:{os.getpid()}", stack, list(kinds), besides),
            ).fetchall()
        return sorted((Operation.model_validate(r) for r in rows), key=lambda o: o.id)

    def requeue(self, operation: int) -> None:
        """Back to `queued` (claimed for a batch it cannot join; its own job runs it)."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_operations SET status = 'queued' WHERE id = %s AND status = 'running'",
                (operation,),
            )

    def finish(self, operation: int, result: Any) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_operations SET status = 'done', result = %s, finished_at = now()"
                " WHERE id = %s AND status IN ('queued', 'running')",
                (Jsonb(json.loads(self._scrub(json.dumps(result)))), operation),
            )

    def fail(self, operation: int, error: BaseException) -> None:
        """`failed` with the error; a row of the tenant the operation left `pending` (its
        change written, its `up` failed) is `failed` too, with the same error, instead of
        waiting for a shard run nobody queued (the next run of its shard still applies it,
        and a new request makes it `pending` again)."""
        err = _errors.translate(error)
        details = _json_safe(getattr(err, "details", {}) or {})
        details.pop("operation", None)
        details = json.loads(self._scrub(json.dumps(details)))
        message = self._scrub(str(err))
        with self._tx() as cur:
            row = cur.execute(
                "UPDATE nt_operations SET status = 'failed', error = %s, error_kind = %s,"
                " error_details = %s, finished_at = now() WHERE id = %s"
                " AND status IN ('queued', 'running') RETURNING tenant_id, tier",
                (message, type(err).__name__, Jsonb(details), operation),
            ).fetchone()
            if row is not None and row["tenant_id"] == tier_key(row["tier"]):
                # a tier-wide operation (a rollout failing on an engine error no tenant is
                # blamed for): the rows its waves left pending/applying, where no run of
                # their shard is waiting or running (`_tasks.shard_lock_name`), fail with
                # its error; the rollout's rerun re-declares them (issue 12). Only tenants
                # applied before: a sign-up between its row's commit and its job is not its
                cur.execute(
                    "UPDATE nt_tenants t SET status = 'failed', error = %s, updated_at = now()"
                    " WHERE t.tier = %s AND t.present AND t.status IN ('pending', 'applying')"
                    " AND t.applied_version > 0"
                    " AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j"
                    "  WHERE j.status IN ('todo', 'doing') AND j.lock = 'neon-tenants:'"
                    "  || t.tier || ':' || lpad(t.shard::text, 2, '0'))",
                    (message, row["tier"]),
                )
            elif row is not None:
                cur.execute(
                    "UPDATE nt_tenants SET status = 'failed', error = %s, updated_at = now()"
                    " WHERE tenant_id = %s AND status = 'pending'",
                    (message, row["tenant_id"]),
                )

    def orphans(self, older_than: float) -> list[Operation]:
        """Unfinished operations with no live job (`queued`/`running`, older than
        `older_than` seconds, whose job never got deferred, ended, or is gone): the caller
        died between recording one and queueing it, or its job ended without recording."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT o.* FROM nt_operations o"
                " LEFT JOIN procrastinate_jobs j ON j.id = o.job_id"
                " WHERE o.status IN ('queued', 'running')"
                " AND o.created_at < now() - make_interval(secs => %s)"
                " AND (j.id IS NULL OR j.status NOT IN ('todo', 'doing'))"
                " ORDER BY o.id",
                (older_than,),
            ).fetchall()
        return [Operation.model_validate(r) for r in rows]

    def prune(self, days: int = 7) -> int:
        """Drop finished operations older than `days` (their events went long before)."""
        with self._tx() as cur:
            cur.execute(
                "DELETE FROM nt_operations WHERE status IN ('done', 'failed')"
                " AND finished_at < now() - make_interval(days => %s)",
                (days,),
            )
            return cur.rowcount


def _json_safe(details: Mapping[str, Any]) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for key, value in details.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)
        out[key] = value
    return out
