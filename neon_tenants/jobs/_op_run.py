"""One queued operation in a worker: `FleetManager(run_here=True)` runs it in this process.

`run_here` is the PostgreSQL store with the engine here and no queue: the same code as a
synchronous call in the embedded mode (validation again, the tier's snapshot rotation, the
tier move's transfer then adopt, archive before delete, the default-branch refresh after a
snapshot restore), so a queued operation does exactly what the synchronous one does. Its
progress events go to `nt_events`, tagged with the operation, for the caller that waits.

Every operation converges when run again after a `kill -9` (stalled-job recovery re-queues
the job): declarative edits are idempotent, the tier move finishes where it stopped, and the
triggers of `restore_snapshot` / `reset_dev_branch` were drawn by the caller, so a rerun
re-applies the same one instead of restoring twice.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neon_tenants.fleet.sharding import parse_stack_name
from neon_tenants.jobs._events import EventLog
from neon_tenants.jobs._op_batch import BATCHABLE, edit_of, run_batch
from neon_tenants.jobs._ops import MULTI_TENANT_KINDS, TIER_KINDS, Operation, OperationStore

if TYPE_CHECKING:
    from neon_tenants.archive import ArchiveSettings
    from neon_tenants.automation import FleetManager
    from neon_tenants.automation.events import ProgressEvent
    from neon_tenants.catalog import Catalog

log = logging.getLogger("neon_tenants.worker")

CONNECTION = {"type": "connection"}
"""The result of an operation that returns a connection: the caller reads the outputs."""

PRUNE_EVERY = 50


class OperationRunner:
    """Runs `run_operation` jobs for one worker process (its work dir, its engine)."""

    def __init__(
        self,
        conninfo: str,
        work_dir: Path,
        catalog: Catalog,
        *,
        stacks_dir: Path | None = None,
        neon_env: dict[str, str] | None = None,
        archive: ArchiveSettings | None = None,
        concurrency: int = 1,
    ) -> None:
        self.conninfo = conninfo
        self.work_dir = Path(work_dir)
        self.stacks_dir = Path(stacks_dir) if stacks_dir else self.work_dir / "stacks"
        self.catalog = catalog
        self.neon_env = dict(neon_env or {})
        self.archive = archive
        self.ops = OperationStore(conninfo)
        self.events = EventLog(conninfo)
        from neon_tenants.db.store import PostgresFleetStore

        # per operation running at once: one connection per tier lock held (at most two
        # tiers: a move) and one for the rest
        self.runs = PostgresFleetStore(conninfo, max_size=3 * max(1, concurrency))
        self._runs = 0

    def close(self) -> None:
        self.ops.close()
        self.events.close()
        self.runs.close()

    def manager(self, on_event: Any) -> FleetManager:
        from neon_tenants.automation import FleetManager

        return FleetManager(
            self.stacks_dir, work_dir=self.work_dir, catalog=self.catalog,
            neon_env=self.neon_env, on_event=on_event, archive=self.archive or False,
            run_here=True, workers=1,
        )

    def _require_postgres(self, op: Operation) -> None:
        """The rule shard jobs follow too (`_worker.require_postgres`): this host's stack
        config must keep the tier in PostgreSQL, or `run_here` would edit local fleet files."""
        from neon_tenants.automation._errors import EngineUnavailable
        from neon_tenants.fleet.store_choice import tier_store

        choice = tier_store(self.stacks_dir, op.tier, {**os.environ, **self.neon_env})
        if choice.kind != "postgres":
            raise EngineUnavailable(
                f"tier {op.tier} uses the files store on this worker ({choice.why}, stacks dir "
                f"{self.stacks_dir}): set neon-tenants:fleetStore: postgres in its stack config"
            )

    def __call__(self, operation: int, job_id: int | None = None) -> None:
        op = self.ops.start(operation)
        if op is None:
            return  # finished already (a job retried after its operation completed)
        if self._runs % PRUNE_EVERY == 0:
            self.events.prune()
            self.ops.prune()
        self._runs += 1
        log.info("operation %s: %s %s (attempt %s)", op.id, op.kind, op.tenant_id, op.attempts)

        members: dict[int, Operation] = {op.id: op}  # the batch run with it, if any

        def forward(event: ProgressEvent) -> None:
            tenant = getattr(event, "tenant", None)
            try:
                for member in list(members.values()):
                    if (tenant is None or tenant == member.tenant_id
                            or member.kind in MULTI_TENANT_KINDS):
                        self.events.append(event, tenant=member.tenant_id,
                                           operation=member.id)
            except Exception:  # noqa: BLE001 - progress is best effort; the work goes on
                log.exception("could not record a progress event")

        shards = self._shards(op)
        # the reshard lock, shared, like shard runs (jobs/_run.py): `reshard` exports and
        # imports stack state under it exclusive, so it must never run beside an operation
        # that changes that state; every tier the operation touches, in sorted order
        with ExitStack() as held:
            for tier in sorted({tier for tier, _ in shards}):
                held.enter_context(self.runs.tier_lock(tier, exclusive=False))
            self._run(op, shards, job_id, members, forward)

    def _run(self, op: Operation, shards: list[tuple[str, int]], job_id: int | None,
             members: dict[int, Operation], forward: Any) -> None:
        # an `nt_runs` row names this worker as the holder of the stack lock its engine
        # takes: another host judges a killed one by the worker's heartbeat (_backend_locks)
        runs = [self.runs.record_run_start(tier, shard, job_id, socket.gethostname(),
                                           os.getpid(), 1) for tier, shard in shards]
        outcome = f"operation {op.id} {op.kind}: "
        try:
            self._require_postgres(op)
            with self.manager(forward) as fm:
                others: list[Operation] = []
                if op.kind in BATCHABLE and edit_of(fm, op) is not None:
                    others = self.ops.claim(op.stack, BATCHABLE, op.id)
                if others:
                    members.update({o.id: o for o in others})
                    outcome = f"operations {','.join(str(i) for i in members)} batch: "
                    log.info("batch of %s operations on %s", len(members), op.stack)
                    run_batch(fm, list(members.values()), self.ops, CONNECTION)
                    result = None
                else:
                    result = dispatch(fm, op)
        except Exception as exc:  # noqa: BLE001 - recorded for the caller, not retried
            log.warning("operation %s failed: %s", op.id, type(exc).__name__)
            for member in members.values():
                self.ops.fail(member.id, exc)
            outcome += "failed"
        else:
            if len(members) == 1:
                self.ops.finish(op.id, result)
            outcome += "done"
        for run in runs:
            self.runs.record_run_end(run, outcome)
        for tenant in {m.tenant_id for m in members.values()}:
            self.events.notify(tenant)

    def _shards(self, op: Operation) -> list[tuple[str, int]]:
        """The shards whose stacks the operation's engine locks: its tenant's, and for a
        tier move the target tier's too."""
        from neon_tenants.fleet.sharding import shard_of

        ref = parse_stack_name(op.stack)
        if op.kind in TIER_KINDS:  # a rollout's waves lock every shard's stack in turn
            shape = self.runs.fleet_shape(op.tier)
            return [(op.tier, s) for s in range(shape[0] if shape else 1)]
        found = [(op.tier, ref.shard or 0)]
        if op.kind == "move_many":  # the source shard, and each target shard once
            target = str(op.args["tier"])
            shape = self.runs.fleet_shape(target)
            shards = shape[0] if shape else 1
            found += sorted({(target, shard_of(t, shards) if shards > 1 else 0)
                             for t in op.args["tenants"]})
        if op.kind in ("upgrade", "downgrade"):
            target = str(op.args["tier"])
            shape = self.runs.fleet_shape(target)
            shards = shape[0] if shape else 1
            found.append((target, shard_of(op.tenant_id, shards) if shards > 1 else 0))
        return found


ORPHAN_AFTER = 30.0
"""Seconds an operation may wait for its job to be queued before a worker queues it."""


async def requeue_orphans(app: Any, ops: OperationStore, older_than: float = ORPHAN_AFTER
                          ) -> list[int]:
    """Queue a job for each operation that has none alive (see `OperationStore.orphans`);
    the worker's recovery loop calls it with stalled-job recovery. Returns their ids."""
    import asyncio

    from procrastinate.exceptions import AlreadyEnqueued

    from neon_tenants.jobs._tasks import OPERATION_TASK, operation_locks

    found: list[int] = []
    for op in await asyncio.to_thread(ops.orphans, older_than):
        shard = parse_stack_name(op.stack).shard or 0
        lock, queueing_lock = operation_locks(op.kind, op.tier, shard)
        try:
            job = await app.tasks[OPERATION_TASK].configure(
                lock=lock, queueing_lock=queueing_lock).defer_async(operation=op.id)
        except AlreadyEnqueued:  # its tier's rollout job is waiting already
            continue
        await asyncio.to_thread(ops.set_job, op.id, int(job))
        log.warning("queued orphaned operation %s (%s %s)", op.id, op.kind, op.tenant_id)
        found.append(op.id)
    return found


def dispatch(fm: FleetManager, op: Operation) -> Any:
    """Run the operation through the synchronous API; returns its JSON-safe result."""
    from neon_tenants.tenant import DevBranchSpec

    tenant, a = op.tenant_id, op.args
    match op.kind:
        case "upgrade":
            fm.upgrade(tenant, a["tier"])
        case "downgrade":
            fm.downgrade(tenant, a["tier"])
        case "restore":
            where, _ = fm._where(tenant)
            return fm._restore_here(tenant, where, a["timestamp"], a["keep"]).model_dump(
                mode="json")
        case "snapshot":
            fm.snapshot(tenant, a["name"], pinned=bool(a.get("pinned")))
        case "restore_snapshot":
            fm._restore_snapshot(tenant, a["name"], a["token"])
        case "create_dev_branch":
            fm._create_dev_branch(tenant, DevBranchSpec.model_validate(a["branch"]))
        case "reset_dev_branch":
            fm._reset_dev_branch(tenant, a["name"], a["token"])
        case "delete_dev_branch":
            fm.delete_dev_branch(tenant, a["name"])
        case "checkpoint":
            made = fm.checkpoint(tenant, a["label"], app_revision=a.get("app_revision"),
                                 metadata=a.get("metadata") or {})
            return made.model_dump(mode="json")
        case "rollback":
            back = fm.rollback(tenant, a["checkpoint"])
            return back.model_dump(mode="json", exclude={"connection"})
        case "delete":
            fm.delete(tenant)
            return {"type": "deleted"}
        case "move_many":
            from neon_tenants.automation._bulk_ops import bulk_result

            moved = fm.move_many(list(a["tenants"]), str(a["tier"]),
                                 downgrade=bool(a["downgrade"]), apply=bool(a["apply"]))
            return bulk_result(moved)
        case "restore_archive":
            fm.restore_archive(Path(a["manifest"]), tenant, str(a["tier"]))
        case "repair":
            from neon_tenants.automation._audit_ops import repair_stack

            return repair_stack(fm, op.stack)
        case "rollout":
            command = a.get("migration_command")
            done = fm.rollout(op.tier, a["revision"], canary=int(a["canary"]),
                              batch=int(a["batch"]),
                              migration_command=None if command is None else str(command))
            return done.model_dump(mode="json")
        case _:
            raise ValueError(f"unknown operation {op.kind!r}")
    return CONNECTION
