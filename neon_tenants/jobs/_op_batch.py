"""Declarative operations of one shard in one engine run: they batch like sign-ups (issue 11).

A snapshot, or a dev branch created, reset or deleted, is an edit of its tenant's declared
spec. When a worker starts such an operation it also claims every other one still queued
for the same stack (`OperationStore.claim`), applies their edits to the rows in request
order (each validated against its tier first: a refused one fails alone), then runs ONE
`up` scoped to those tenants with `continue_on_error`: one tenant's failure (blamed from the
engine's events) fails its operations only. The claimed operations' own jobs find them
finished and do nothing. A snapshot that needs the tier's rotation first (two `up`s) is not
batched: it goes back to `queued` and runs on its own job. A worker killed mid-batch leaves
the claimed operations `running` with their jobs still queued: each then runs alone and
converges (the edits are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from neon_tenants.automation._errors import DeploymentFailed
from neon_tenants.automation._locks import shard_lock
from neon_tenants.automation.events import TenantFailures
from neon_tenants.tenant import DevBranchSpec, TenantSpec

if TYPE_CHECKING:
    from neon_tenants.automation import FleetManager
    from neon_tenants.jobs._ops import Operation, OperationStore

BATCHABLE = ("snapshot", "create_dev_branch", "reset_dev_branch", "delete_dev_branch")

Edit = Callable[[TenantSpec], TenantSpec]


def edit_of(fm: FleetManager, op: Operation) -> Edit | None:
    """The operation as an edit of its tenant's spec; None when one `up` cannot apply it."""
    a = op.args
    if op.kind == "snapshot":
        where, spec = fm._where(op.tenant_id)
        if spec.snapshot(str(a["name"])) is not None:
            return lambda s: s  # declared already: the run makes sure it exists
        keep, new = fm._snapshot_room(where.tier, spec, str(a["name"]),
                                      pinned=bool(a.get("pinned")))
        if keep is not None:
            return None  # over the cap: the oldest goes first, in an `up` of its own
        return lambda s: s.model_copy(update={"snapshots": (*s.snapshots, new)})
    if op.kind == "create_dev_branch":
        branch = DevBranchSpec.model_validate(a["branch"])
        return lambda s: s.with_dev_branch(branch)
    if op.kind == "reset_dev_branch":
        name, token = str(a["name"]), str(a["token"])
        return lambda s: s.with_dev_branch(
            s.require_dev_branch(name).model_copy(update={"reset_trigger": token}))
    if op.kind == "delete_dev_branch":
        name = str(a["name"])
        return lambda s: s.without_dev_branch(name)
    return None


def run_batch(
    fm: FleetManager, batch: list[Operation], ops: OperationStore, result: Any
) -> None:
    """Apply the batch's edits, `up` their tenants once, record each operation's outcome;
    under the stack's shard lock (a rollout wave edits the same rows under it)."""
    if batch:
        with shard_lock(fm.lock_dir, batch[0].stack, fm.lock_conninfo):
            _apply_batch(fm, batch, ops, result)


def _apply_batch(
    fm: FleetManager, batch: list[Operation], ops: OperationStore, result: Any
) -> None:
    before: dict[str, TenantSpec | None] = {}
    wanted: dict[str, TenantSpec] = {}
    applied: list[Operation] = []
    tier, shard = "", None
    for op in batch:
        try:
            edit = edit_of(fm, op)
            if edit is None:
                ops.requeue(op.id)
                continue
            where, _ = fm._where(op.tenant_id)
            current = fm.store.get(where.tier, op.tenant_id)
            if current is None:
                raise fm_not_found(op)
            new = fm._build(where.tier, partial(edit, current))
            fm._validate(new, where.tier, before=current)
            if op.kind == "create_dev_branch":
                extra = fm._undeclared_branches(where, new)
                if extra:
                    fm._validate(new, where.tier, before=current, extra_branches=extra)
            before.setdefault(op.tenant_id, current)
            if new != current:
                fm.store.put(where.tier, new)
            wanted[op.tenant_id] = new
            tier, shard = where.tier, where.shard
            applied.append(op)
        except Exception as exc:  # noqa: BLE001 - this operation fails alone
            ops.fail(op.id, exc)
    if not applied:
        return
    blame = TenantFailures()
    error: Exception | None = None
    try:
        fm.runner.up(tier, shard, scope=before, on_event=blame, continue_on_error=True)
    except Exception as exc:  # noqa: BLE001 - blamed per tenant below
        error = exc
    if error is not None and not blame.failed:
        done: list[str] = []  # the run failed as a whole (engine, backend): nobody's applied
    else:
        done = [t for t in wanted if t not in blame.failed]
    mark = getattr(fm.store, "applied", None)
    if mark is not None and done and error is not None:
        mark(tier, [wanted[t] for t in done])  # the run failed for others: these applied
    for op in applied:
        why = blame.failed.get(op.tenant_id)
        if op.tenant_id in done:
            ops.finish(op.id, result)
        else:
            ops.fail(op.id, DeploymentFailed(
                f"tenant {op.tenant_id!r}: {why or error}", stack=op.stack))


def fm_not_found(op: Operation) -> Exception:
    from neon_tenants.automation._errors import TenantNotFound

    return TenantNotFound(f"tenant {op.tenant_id!r} left the fleet meanwhile")
