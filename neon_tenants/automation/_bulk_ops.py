"""A bulk tier move as queued operations in PostgreSQL mode (issue 11).

`FleetManager.move_many` in PostgreSQL mode runs, in the caller's process, every rule that
needs no write (`_bulk.plan_moves`: 422 naming the tenants) and, for a downgrade, the usage
check (Neon reads only: 409 with every tenant's numbers), so a refused move queues nothing.
It then records ONE `move_many` operation per SOURCE stack (its `tenant_id` is
`bulk_key(stack)`, never a tenant id) and queues its job behind that source shard's lock.

Why one per source stack: a move forgets the tenants in their source stack's state and then
drops their source rows; a run of that shard in between would create the tenant again (a
duplicate project). procrastinate gives a job one lock, so the job that edits a source shard
holds that shard's lock, serialized with its runs and operations like a single tier move.
The target shards' `up`s are serialized with their shard runs by the engine's stack lock (as
for a single tier move); both sides appear in `nt_runs`. Each job still sends one transfer
request per <= 400 projects of its stack, and its worker runs the same `_bulk.move_many` as
the embedded mode, which converges when rerun after a `kill -9` (moved tenants are skipped).

`wait=False` returns a `BulkMoveStatus` at once; `move_many_status(ids)` and
`wait_move_many(ids)` follow it; `wait` returns the `BulkMove` (connections read from the
target stacks' outputs here: results never hold a secret), or raises the first failure
once every operation has ended.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from neon_tenants.automation._bulk import BulkMove, check_downgrade, find_projects, plan_moves
from neon_tenants.automation._errors import TenantNotFound
from neon_tenants.automation.models import TenantConnection
from neon_tenants.fleet.sharding import parse_stack_name

if TYPE_CHECKING:
    from neon_tenants.automation._queued import QueuedOps
    from neon_tenants.jobs import ShardQueue
    from neon_tenants.jobs._ops import Operation

KIND = "move_many"


def bulk_key(stack: str) -> str:
    """The `tenant_id` of a bulk move's operation row: its source stack (':' is in no
    tenant id)."""
    return f"bulk:{stack}"


class BulkMoveStatus(BaseModel):
    """A queued bulk move: its operations (one per source stack) and where they are."""

    model_config = ConfigDict(frozen=True)

    tier: str
    operations: list[int]
    status: Literal["queued", "running", "done", "failed"]
    errors: list[str] = []

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _queue(fm: QueuedOps) -> ShardQueue:
    queue = fm.queue
    if queue is None:
        raise TenantNotFound("queued bulk moves exist in PostgreSQL mode only (no queue here)")
    return queue


def _aggregate(tier: str, ops: list[Operation]) -> BulkMoveStatus:
    states = {o.status for o in ops}
    status: Literal["queued", "running", "done", "failed"]
    if states <= {"done"}:
        status = "done"
    elif states <= {"done", "failed"}:
        status = "failed"
    elif states <= {"queued"}:
        status = "queued"
    else:
        status = "running"
    return BulkMoveStatus(tier=tier, operations=[o.id for o in ops], status=status,
                          errors=[f"operation {o.id}: {o.error}" for o in ops if o.error])


def submit_move_many(
    fm: QueuedOps, tenants: list[str], tier: str, *, downgrade: bool, apply: bool
) -> BulkMoveStatus:
    """Check, record and queue (one operation per source stack); its status at once."""
    items = plan_moves(fm, tenants, tier, downgrade=downgrade)
    if downgrade and items:
        find_projects(fm, items)
        check_downgrade(fm, items, tier)
    groups: dict[str, list[str]] = defaultdict(list)
    for item in items:
        groups[item.src.stack].append(item.tenant)
    queue = _queue(fm)
    ops = []
    for stack, names in sorted(groups.items()):
        ref = parse_stack_name(stack)
        ops.append(queue.submit(KIND, bulk_key(stack), ref.tier, ref.shard or 0, stack,
                                {"tenants": names, "tier": tier, "downgrade": downgrade,
                                 "apply": apply}))
    return _aggregate(tier, ops)


def _ops(fm: QueuedOps, operations: list[int]) -> list[Operation]:
    queue = _queue(fm)
    found = []
    for operation in operations:
        op = queue.ops.get(operation)
        if op is None or op.kind != KIND:
            raise TenantNotFound(f"operation {operation} is not a recorded bulk move")
        found.append(op)
    return found


def move_many_status(fm: QueuedOps, operations: list[int]) -> BulkMoveStatus:
    ops = _ops(fm, operations)
    tier = str(ops[0].args["tier"]) if ops else ""
    return _aggregate(tier, ops)


def wait_move_many(fm: QueuedOps, operations: list[int], timeout: float) -> BulkMove:
    """Until every operation ends: the merged BulkMove, or the first failure raised (its
    FleetError class); WaitTimeout (504) leaves them queued or running."""
    import time

    ops = _ops(fm, operations)
    tier = str(ops[0].args["tier"]) if ops else ""
    deadline = time.monotonic() + timeout
    queue = _queue(fm)
    done = [queue.follow(op.id, max(0.0, deadline - time.monotonic())) for op in ops]
    for op in done:
        op.raise_error()
    result = BulkMove(tier=tier)
    stacks: set[str] = set()
    for op in done:
        part = op.result or {}
        result.moved += list(part.get("moved", []))
        result.transfer_requests += int(part.get("transfer_requests", 0))
        stacks.update(part.get("stacks", []))
    result.stacks = sorted(stacks)
    if any(op.args.get("apply") for op in done):
        result.connections = _connections(fm, queue, result.moved)
    return result


def _connections(fm: QueuedOps, queue: ShardQueue, tenants: list[str]
                 ) -> dict[str, TenantConnection]:
    """The moved tenants' connections, each target stack's outputs read once."""
    where = {t: queue.row_status(t) for t in tenants}
    outputs = {s: fm._outputs(s) for s in sorted({w.stack for w in where.values()})}
    found: dict[str, TenantConnection] = {}
    for tenant, status in where.items():
        value = outputs[status.stack].get(tenant)
        if value:
            found[tenant] = TenantConnection.from_output(tenant, status.tier, status.stack,
                                                         value)
    return found


def bulk_result(done: BulkMove) -> dict[str, Any]:
    """A worker's JSON-safe record of its part (no connection: they hold secrets)."""
    return {"tier": done.tier, "moved": done.moved,
            "transfer_requests": done.transfer_requests, "stacks": done.stacks}
