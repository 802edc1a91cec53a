"""A rollout as a queued operation in PostgreSQL mode (issues 11, 12).

`FleetManager.rollout` in PostgreSQL mode checks every rule of the rollout (`check_rollout`:
tier, revision, canary, batch, a migration command for every tenant) in the caller's
process, then records ONE `rollout` row in `nt_operations` (its `tenant_id` is the tier's key,
`tier:<tier>`) and queues its job (`jobs/_tasks.operation_locks`: the tier's rollout lock and
queueing lock). Recording refuses a second rollout of the tier while one is queued or running
(`OperationInProgress`, 409): the check and the insert are one transaction under an advisory
lock, so two replicas asking at once get one rollout. A worker runs it with
`FleetManager(run_here=True)`, the same waves as the in-process rollout, and records the
`RolloutResult` (a stopped rollout is a result, not a failure). `wait=False` returns a
`RolloutStatus` at once; `rollout_status(id)` and `wait_rollout(id)` follow it; the worker's
progress events reach the waiting caller. A worker killed mid-rollout leaves the operation
`running`; stalled-job recovery runs it again and the rerun continues where it stopped (the
rollout converges on a rerun: `_rollout.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from neon_tenants.automation._errors import TenantNotFound
from neon_tenants.automation._rollout import RolloutResult, check_rollout

if TYPE_CHECKING:
    from neon_tenants.automation._manager import FleetManager
    from neon_tenants.jobs import ShardQueue
    from neon_tenants.jobs._ops import Operation


class RolloutStatus(BaseModel):
    """A queued rollout: where it is, and its result once `done`."""

    model_config = ConfigDict(frozen=True)

    operation: int
    tier: str
    revision: str
    status: Literal["queued", "running", "done", "failed"]
    error: str | None = None
    result: RolloutResult | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _status(op: Operation) -> RolloutStatus:
    result = RolloutResult.model_validate(op.result) if op.status == "done" else None
    return RolloutStatus(operation=op.id, tier=op.tier, revision=str(op.args["revision"]),
                         status=op.status, error=op.error, result=result)


def _queue(fm: FleetManager) -> ShardQueue:
    queue = fm.queue
    if queue is None:
        raise TenantNotFound("queued rollouts exist in PostgreSQL mode only (no queue here)")
    return queue


def submit_rollout(
    fm: FleetManager, tier: str, revision: str, *, canary: int, batch: int,
    migration_command: str | None = None,
) -> RolloutStatus:
    """Check, record and queue; returns its status at once."""
    from neon_tenants.jobs._ops import tier_key

    check_rollout(fm, tier, revision, canary=canary, batch=batch,
                  migration_command=migration_command)
    args: dict[str, object] = {"revision": revision, "canary": canary, "batch": batch}
    if migration_command is not None:
        args["migration_command"] = migration_command
    op = _queue(fm).submit("rollout", tier_key(tier), tier, 0, tier, args)
    return _status(op)


def rollout_status(fm: FleetManager, operation: int) -> RolloutStatus:
    op = _queue(fm).ops.get(operation)
    if op is None or op.kind != "rollout":
        raise TenantNotFound(f"operation {operation} is not a recorded rollout")
    return _status(op)


def wait_rollout(fm: FleetManager, operation: int, timeout: float) -> RolloutResult:
    """Until the rollout ends: its result, or its failure raised (same FleetError class);
    WaitTimeout (504) leaves it queued or running."""
    rollout_status(fm, operation)  # a rollout, not another kind of operation
    done = _queue(fm).follow(operation, timeout)
    done.raise_error()
    return RolloutResult.model_validate(done.result)
