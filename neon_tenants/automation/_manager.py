"""FleetManager: the Python API the platform backend calls (issue 7), as operations over the
fleet store, the shard runner and the Neon client (`_core.py` wires them).

Design (tier moves). Stacks are per tier (`free`, `pro-03`, ...) so infra teams keep per-tier
stacks to `pulumi up`, and each tier's fleet lists only its tenants. A tier change keeps
the Neon project: under both shards' locks (sorted, so two movers cannot deadlock) we
(1) refuse a downgrade whose usage does not fit, before any change; (2) transfer the project
to the target org (Neon has no org PATCH; CONTRACT.md section 1, Transfers); (3) put the
tenant into the target fleet with `adopt_project_id` and `up` the target shard, which adopts
the project and applies the target tier's quotas and compute; (4) drop the tenant's
resources from the source stack's state WITHOUT deleting them and remove it from the source
fleet. Exactly two small stacks are touched. A crash between (3) and (4) leaves both stacks
pointing at one project; re-running the same move finishes it (each step is idempotent).

Every other operation touches one shard: validate the changed tenant against its tier,
put it into the store, then `up` that shard with the inline program of `fleet/program.py`.
Undo (`restore`) is imperative through the client: point-in-time restore is an action on
data, not a declared state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, overload

from neon_tenants.automation import _hygiene, _revisions, _usage
from neon_tenants.automation._bulk import BulkMove, move_many
from neon_tenants.automation._bulk_ops import (
    BulkMoveStatus,
    move_many_status,
    submit_move_many,
    wait_move_many,
)
from neon_tenants.automation._errors import (
    ArchiveFailed,
    DeploymentFailed,
    InvalidRequest,
    LimitsExceeded,
    TenantConflict,
    TenantNotFound,
)
from neon_tenants.automation._fleet_settings import set_fleet_revision
from neon_tenants.automation._locks import shard_lock, shard_locks
from neon_tenants.automation._parallel import in_parallel
from neon_tenants.automation._queued import QueuedOps
from neon_tenants.automation._revisions import RollbackResult
from neon_tenants.automation._rollout import DEFAULT_BATCH, RolloutResult, rollout
from neon_tenants.automation._rollout_ops import (
    RolloutStatus,
    rollout_status,
    submit_rollout,
    wait_rollout,
)
from neon_tenants.automation._runner import guard
from neon_tenants.automation._store import Placement
from neon_tenants.automation.audit import AuditReport
from neon_tenants.automation.events import StackProgress
from neon_tenants.automation.models import RestoreResult, TenantConnection, TenantStatus
from neon_tenants.automation.preview import FleetDiff, PlannedStep, fleet_diff, step_from_event
from neon_tenants.checkpoint import Checkpoint, CheckpointRecord, MetadataValue
from neon_tenants.fleet.sharding import all_stacks
from neon_tenants.fleet.spec import FleetSpec
from neon_tenants.naming import project_urn
from neon_tenants.tenant import DevBranchSpec, SnapshotSpec, TenantSpec


class FleetManager(QueuedOps):
    """Provision, move, undo and delete tenants; each call is safe to repeat and to run
    concurrently with others (per-shard queueing, retry on ConcurrentUpdateError).

    `FleetManager(stacks_dir, work_dir=..., backend_url=..., neon_env=..., on_event=...,
    store=...)`: fleets come from the store (default: `stacks_dir/fleets/<tier>.yaml`);
    `work_dir` holds Pulumi.yaml and the stack config files (the repo root, to share stacks
    with infra teams' `pulumi up`); `neon_env` (NEON_API_BASE_URL, NEON_CREDENTIALS_FILE,
    ...) reaches both our client and the dynamic providers; `on_event` receives typed
    progress events. Errors are FleetError subclasses carrying `.http_status`; every bad
    input is refused (422) before the store is written or Neon is called.
    """

    # -- the platform backend's API -------------------------------------------------------

    @overload
    def provision(
        self, tenant: str, tier: str, spec: TenantSpec | None = None, *,
        wait: Literal[True] = True, timeout: float = 600.0,
    ) -> TenantConnection: ...

    @overload
    def provision(
        self, tenant: str, tier: str, spec: TenantSpec | None = None, *,
        wait: Literal[False], timeout: float = 600.0,
    ) -> TenantStatus: ...

    def provision(
        self, tenant: str, tier: str, spec: TenantSpec | None = None, *,
        wait: bool = True, timeout: float = 600.0,
    ) -> TenantConnection | TenantStatus:
        """Idempotent: provisioning an existing tenant of the same tier returns it unchanged.
        Every tier rule runs first: a bad request is a 422 before anything is written.

        `wait=False` returns the request's status at once (PostgreSQL mode: the row is
        written and the shard's run queued; a worker applies it); `status`/`wait` follow it.
        """
        self._tier(tier)
        wanted = spec or self._build(tier, lambda: TenantSpec(id=tenant))
        if wanted.id != tenant:
            raise InvalidRequest(f"id: spec is for {wanted.id!r}, not {tenant!r}", tier=tier)
        self._validate(wanted, tier)
        if self.queue is not None:
            # no spec named: an existing tenant of the tier keeps its own (file mode's rule)
            status = self._request(tier, wanted, wait, timeout, default=spec is None)
            return self._connection_of(status) if wait else status
        conn = self._provision_here(tenant, tier, wanted)
        return conn if wait else self.status(tenant)

    def _provision_here(self, tenant: str, tier: str, wanted: TenantSpec) -> TenantConnection:
        found = self.locate(tenant)
        if found is not None and found[0].tier != tier:
            raise TenantConflict(
                f"tenant {tenant!r} is in tier {found[0].tier}; use upgrade/downgrade",
                tier=found[0].tier,
            )
        where = self.placement(tier, tenant)
        with shard_lock(self.lock_dir, where.stack, self.lock_conninfo):
            self._emit(StackProgress(where.stack, "locked"))
            if found is not None:
                outputs = self._outputs(where.stack)
                if outputs.get(tenant):
                    return self._connection(outputs, where, tenant)
            # read under the shard lock: only this call can add the tenant to its shard
            with guard(where.stack):
                added = self.store.get(tier, tenant) is None
                if added:
                    self.store.put(tier, wanted)
            self._emit(StackProgress(where.stack, "fleet_written"))
            # a tenant this call added has never had a create sent: no list-by-name first
            outputs = self.runner.up(tier, where.shard, frozenset({tenant} if added else ()),
                                     tenant=tenant)
        return self._connection(outputs, where, tenant)

    def connections(self, tier: str) -> dict[str, TenantConnection]:
        """Every tenant of a tier with outputs, reading each shard's outputs once."""
        fleet = self.fleet(tier)
        out: dict[str, TenantConnection] = {}
        for ref in all_stacks(fleet):
            outputs = self._outputs(ref.name(fleet.shards))
            for tenant in self.store.load(tier, ref.shard).tenants:
                where = Placement.of(tier, fleet.shards, tenant.id, fleet.platform)
                if outputs.get(tenant.id) and where.stack == ref.name(fleet.shards):
                    out[tenant.id] = self._connection(outputs, where, tenant.id)
        return out

    def show(self, tenant: str) -> TenantConnection:
        if self.queue is not None:
            return self._connection_of(self.queue.row_status(tenant))
        where, _ = self._where(tenant)
        return self._connection(self._outputs(where.stack), where, tenant)

    @overload
    def upgrade(self, tenant: str, tier: str, *, wait: Literal[True] = True,
                timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def upgrade(self, tenant: str, tier: str, *, wait: Literal[False],
                timeout: float = 600.0) -> TenantStatus: ...

    def upgrade(self, tenant: str, tier: str, *, wait: bool = True,
                timeout: float = 600.0) -> TenantConnection | TenantStatus:
        """Move to a tier that lowers no limit; a smaller tier is refused (use downgrade,
        which checks the usage first)."""
        return self._moved(tenant, tier, downgrade=False, wait=wait, timeout=timeout)

    @overload
    def downgrade(self, tenant: str, tier: str, *, wait: Literal[True] = True,
                  timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def downgrade(self, tenant: str, tier: str, *, wait: Literal[False],
                  timeout: float = 600.0) -> TenantStatus: ...

    def downgrade(self, tenant: str, tier: str, *, wait: bool = True,
                  timeout: float = 600.0) -> TenantConnection | TenantStatus:
        """Refused with the numbers (LimitsExceeded, 409) when usage exceeds the target tier
        (PostgreSQL mode: checked by the worker before any change; `wait` raises it)."""
        return self._moved(tenant, tier, downgrade=True, wait=wait, timeout=timeout)

    def _moved(self, tenant: str, to_tier: str, *, downgrade: bool, wait: bool,
               timeout: float) -> TenantConnection | TenantStatus:
        if self.queue is None:
            conn = self._move(tenant, to_tier, downgrade=downgrade)
            return conn if wait else self.status(tenant)
        src, _, _, _ = self._move_plan(tenant, to_tier, downgrade=downgrade)
        kind = "downgrade" if downgrade else "upgrade"
        done = self._enqueue(kind, src, tenant, {"tier": to_tier}, wait, timeout)
        return done if isinstance(done, TenantStatus) else self._connected(tenant)

    def _move_plan(
        self, tenant: str, to_tier: str, *, downgrade: bool
    ) -> tuple[Placement, TenantSpec, TenantSpec, Placement]:
        """Every rule of a tier move that needs no Neon call: (source, its spec, the moved
        spec, the target placement)."""
        target = self._tier(to_tier)
        # a move interrupted after the target `up` lists the tenant twice: finish it
        sources = [f for f in self._placements(tenant) if f[0].tier != to_tier]
        if not sources:
            self._where(tenant)
            raise TenantConflict(f"tenant {tenant!r} is already in tier {to_tier}")
        src, spec = sources[0]
        source = self._tier(src.tier)
        if not downgrade:
            lowered = _usage.lowered_limits(source, target)
            if lowered:
                raise InvalidRequest(
                    f"tier: {to_tier} is smaller than {src.tier} ({'; '.join(lowered)}); "
                    "use downgrade, which checks the tenant's usage first",
                    tier=to_tier, field="tier",
                )
        moved = self._build(to_tier, lambda: spec.model_copy(
            update={"quota_overrides": {}, "compute_overrides": {}}))
        self._validate(moved, to_tier)
        return src, spec, moved, self.placement(to_tier, tenant)

    def _move(self, tenant: str, to_tier: str, *, downgrade: bool) -> TenantConnection:
        target = self._tier(to_tier)
        src, spec, moved, dst = self._move_plan(tenant, to_tier, downgrade=downgrade)
        source = self._tier(src.tier)
        with shard_locks(self.lock_dir, [src.stack, dst.stack], self.lock_conninfo):
            self._emit(StackProgress(src.stack, "locked", f"move to {dst.stack}"))
            pid = (
                spec.adopt_project_id
                or self._connection(self._outputs(src.stack), src, tenant).project_id
            )
            with guard(src.stack):
                org = self.client.org(source.org)
                dst_org = self.client.org(target.org)
                # already transferred (same org, or a rerun of an interrupted move)?
                arrived = org.org_id == dst_org.org_id or _usage.holds(dst_org, pid)
                holder = dst_org if arrived else org
                if downgrade:
                    usage = _usage.read_usage(holder, pid)
                    found = _usage.violations(usage, target, self.catalog.orgs.get(target.org))
                    if found:
                        raise LimitsExceeded(
                            _usage.describe(tenant, to_tier, found),
                            violations=found,
                            usage=usage.model_dump(),
                        )
                if not arrived:
                    self._emit(StackProgress(src.stack, "imperative", "transfer project"))
                    _usage.transfer_fitted(self.client, org, dst_org, pid, target,
                                           fit=downgrade)
            final = moved.model_copy(update={"adopt_project_id": pid})
            with guard(dst.stack):
                self.store.put(to_tier, final)
            self._emit(StackProgress(dst.stack, "fleet_written"))
            outputs = self.runner.up(to_tier, dst.shard, tenant=tenant)
            self.runner.forget(src.stack, tenant)
            with guard(src.stack):
                self.store.delete(src.tier, tenant)
            self._emit(StackProgress(src.stack, "fleet_written", f"{tenant} moved out"))
        return self._connection(outputs, dst, tenant)

    @overload
    def move_many(self, tenants: list[str], tier: str, *, downgrade: bool = False,
                  apply: bool = True, wait: Literal[True] = True,
                  timeout: float = 3600.0) -> BulkMove: ...

    @overload
    def move_many(self, tenants: list[str], tier: str, *, downgrade: bool = False,
                  apply: bool = True, wait: Literal[False],
                  timeout: float = 3600.0) -> BulkMoveStatus: ...

    def move_many(
        self, tenants: list[str], tier: str, *, downgrade: bool = False, apply: bool = True,
        wait: bool = True, timeout: float = 3600.0,
    ) -> BulkMove | BulkMoveStatus:
        """Move many tenants to `tier` in one call: validated (and, for a downgrade, usage
        checked) first, then transferred in batches of <= 400 projects per request, each
        batch recorded in the fleets at once; the target shards are `up`-ed once each
        (unless `apply=False`). See `_bulk.py`. PostgreSQL mode: the same checks here (422,
        409 before anything is queued), then one queued operation per source stack that a
        worker runs; `wait=False` returns a BulkMoveStatus, `wait_move_many(ids)` the
        BulkMove (`_bulk_ops.py`). Embedded default: runs here; `wait=False` then returns
        the finished status."""
        if self.queue is None:
            done = move_many(self, tenants, tier, downgrade=downgrade, apply=apply)
            if wait:
                return done
            return BulkMoveStatus(tier=tier, operations=[], status="done")
        queued = submit_move_many(self, tenants, tier, downgrade=downgrade, apply=apply)
        return wait_move_many(self, queued.operations, timeout) if wait else queued

    def move_many_status(self, operations: list[int]) -> BulkMoveStatus:
        """A queued bulk move's status (PostgreSQL mode): its operations' ids in, one
        status out (`failed` once all ended and one failed)."""
        return move_many_status(self, operations)

    def wait_move_many(self, operations: list[int], timeout: float = 3600.0) -> BulkMove:
        """Until a queued bulk move's operations end: the BulkMove, or a failure raised."""
        return wait_move_many(self, operations, timeout)

    def adopt(self, project_id: str, tenant: str, tier: str) -> TenantConnection:
        """Bring an existing Neon project under management (no `pulumi import` for dynamic
        resources, hence the explicit adopt input)."""
        spec = self._build(tier, lambda: TenantSpec(id=tenant, adopt_project_id=project_id))
        found = self.locate(tenant)
        if found is not None and found[1].adopt_project_id not in (None, project_id):
            raise TenantConflict(f"tenant {tenant!r} already manages another project")
        return self.provision(tenant, tier, spec if found is None else None)

    @overload
    def delete(self, tenant: str, *, wait: Literal[True] = True,
               timeout: float = 600.0) -> None: ...

    @overload
    def delete(self, tenant: str, *, wait: Literal[False],
               timeout: float = 600.0) -> TenantStatus: ...

    def delete(self, tenant: str, *, wait: bool = True,
               timeout: float = 600.0) -> TenantStatus | None:
        """Remove from the fleet and `up`: the engine first runs the tenant's archive step
        (archive before delete, issue 12: the archive Command depends on every other resource
        of the tenant, so it is deleted first), then deletes the project (Neon soft-deletes
        it, recoverable for 7 days). A failed archive stops the engine before anything else
        of the tenant is deleted: the tenant goes back into its fleet and ArchiveFailed says
        why.

        PostgreSQL mode: queued as an operation (a worker runs this same delete); `wait`
        raises its ArchiveFailed (502, the reason, the row back `ready`).

        A rerun after a crash between the fleet write and the `up` finds the tenant in no
        fleet but still in its stack: it finishes the delete (issue 14)."""
        if self.queue is not None:
            where = self._queued_delete_plan(tenant)
            done = self._enqueue("delete", where, tenant, {}, wait, timeout)
            return done if isinstance(done, TenantStatus) else None
        self._delete_here(tenant)
        if wait:
            return None
        return TenantStatus(tenant=tenant, tier="", shard=0, stack="", status="deleted")

    def _queued_delete_plan(self, tenant: str) -> Placement:
        """Where a queued delete runs. A delete whose `up` failed (not on the archive) left
        the tenant in no fleet but in its stack: a retry is queued there, and the worker's
        `_delete_here` finishes it (as the file mode's rerun does)."""
        try:
            where, spec = self._where(tenant)
        except TenantNotFound:
            tier = self._left_in_a_stack(tenant)
            if tier is None:
                raise
            return self.placement(tier, tenant)
        self._deletable(where, spec)
        return where

    def _deletable(self, where: Placement, spec: TenantSpec) -> None:
        if spec.protected:
            raise InvalidRequest(
                f"protected: tenant {spec.id!r} is protected on tier {where.tier}: set "
                "protected=false and run `up` first", field="protected", tier=where.tier,
            )

    def _delete_here(self, tenant: str) -> None:
        if self.locate(tenant) is None:
            tier = self._left_in_a_stack(tenant)
            if tier is None:
                raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
            stack = self.stack_of(self.fleet(tier), tenant)
            with shard_lock(self.lock_dir, stack, self.lock_conninfo):
                self._emit(StackProgress(stack, "imperative", f"finish deleting {tenant}"))
                self._up(tier, tenant)
            return
        where, spec = self._where(tenant)
        self._deletable(where, spec)
        with shard_lock(self.lock_dir, where.stack, self.lock_conninfo):
            with guard(where.stack):
                self.store.delete(where.tier, tenant)
            self._emit(StackProgress(where.stack, "fleet_written"))
            try:
                self.runner.up(where.tier, where.shard, tenant=tenant, before=spec)
            except DeploymentFailed as exc:
                reason = _archive_failure(str(exc))
                if reason is None:
                    raise
                with guard(where.stack):
                    if self.store.get(where.tier, tenant) is None:
                        self.store.put(where.tier, spec)
                    # the project and its state are untouched: the entry is applied as is
                    applied = getattr(self.store, "applied", None)
                    if applied is not None:
                        applied(where.tier, [spec])
                self._emit(StackProgress(where.stack, "fleet_written",
                                         f"{tenant} kept: archive failed"))
                raise ArchiveFailed(
                    f"tenant {tenant!r} was not deleted: {reason}", stack=where.stack
                ) from exc

    # -- compound checkpoints and migrations (issue 12; see _revisions.py) -------------------

    @overload
    def checkpoint(
        self, tenant: str, label: str, *, app_revision: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None, wait: Literal[True] = True,
        timeout: float = 600.0,
    ) -> Checkpoint: ...

    @overload
    def checkpoint(
        self, tenant: str, label: str, *, app_revision: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None, wait: Literal[False],
        timeout: float = 600.0,
    ) -> TenantStatus: ...

    def checkpoint(
        self,
        tenant: str,
        label: str,
        *,
        app_revision: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        wait: bool = True,
        timeout: float = 600.0,
    ) -> Checkpoint | TenantStatus:
        """Snapshot + app revision (default: the tenant's current one) + metadata, recorded in
        the fleet store and the stack output; idempotent per label."""
        if self.queue is None:
            made = _revisions.checkpoint(
                self, tenant, label, app_revision=app_revision, metadata=metadata
            )
            return made if wait else self.status(tenant)
        where = self._checkpoint_plan(tenant, label, app_revision, metadata)
        args = {"label": label, "app_revision": app_revision, "metadata": dict(metadata or {})}
        done = self._enqueue("checkpoint", where, tenant, args, wait, timeout)
        if isinstance(done, TenantStatus):
            return done
        return Checkpoint.model_validate(done.result)

    def _checkpoint_plan(
        self, tenant: str, label: str, app_revision: str | None,
        metadata: Mapping[str, MetadataValue] | None,
    ) -> Placement:
        """A checkpoint's rules before it is queued: label, revision, metadata, and the
        snapshot's (the tier's cap, all pinned)."""
        from neon_tenants.checkpoint import check_label, check_revision, snapshot_name

        try:
            check_label(label)
            if app_revision is not None:
                check_revision(app_revision)
            Checkpoint(label=label, snapshot=snapshot_name(label), app_revision=app_revision,
                       metadata=dict(metadata or {}), created_at=datetime.now(UTC))
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="checkpoint") from exc
        where, spec = self._where(tenant)
        if all(c.label != label for c in spec.checkpoints):
            self._snapshot_plan(tenant, snapshot_name(label), pinned=False)
        return where

    def checkpoints(self, tenant: str) -> list[Checkpoint]:
        return _revisions.checkpoints(self, tenant)

    def checkpoint_history(self, tenant: str) -> list[CheckpointRecord]:
        """Every checkpoint recorded for the tenant, retired ones (rotated out, replaced, the
        tenant deleted) too: PostgreSQL store only (InvalidRequest with fleet files)."""
        return _revisions.checkpoint_history(self, tenant)

    @overload
    def rollback(self, tenant: str, checkpoint: str | Checkpoint, *,
                 wait: Literal[True] = True, timeout: float = 600.0) -> RollbackResult: ...

    @overload
    def rollback(self, tenant: str, checkpoint: str | Checkpoint, *,
                 wait: Literal[False], timeout: float = 600.0) -> TenantStatus: ...

    def rollback(self, tenant: str, checkpoint: str | Checkpoint, *, wait: bool = True,
                 timeout: float = 600.0) -> RollbackResult | TenantStatus:
        """Restore the checkpoint's snapshot; returns its app revision and metadata."""
        if self.queue is None:
            back = _revisions.rollback(self, tenant, checkpoint)
            return back if wait else self.status(tenant)
        label = checkpoint.label if isinstance(checkpoint, Checkpoint) else checkpoint
        where, _ = self._where(tenant)
        if all(c.label != label for c in self.checkpoints(tenant)):
            known = ", ".join(c.label for c in self.checkpoints(tenant)) or "none"
            raise TenantNotFound(f"tenant {tenant!r} has no checkpoint {label!r} (has: {known})")
        done = self._enqueue("rollback", where, tenant, {"checkpoint": label}, wait, timeout)
        if isinstance(done, TenantStatus):
            return done
        return RollbackResult.model_validate(
            {**done.result, "connection": self._connected(tenant)}
        )

    @overload
    def rollout(self, tier: str, revision: str, *, canary: int = 1, batch: int = DEFAULT_BATCH,
                migration_command: str | None = None,
                wait: Literal[True] = True, timeout: float = 3600.0) -> RolloutResult: ...

    @overload
    def rollout(self, tier: str, revision: str, *, canary: int = 1, batch: int = DEFAULT_BATCH,
                migration_command: str | None = None,
                wait: Literal[False], timeout: float = 3600.0) -> RolloutStatus: ...

    def rollout(
        self, tier: str, revision: str, *, canary: int = 1, batch: int = DEFAULT_BATCH,
        migration_command: str | None = None, wait: bool = True, timeout: float = 3600.0,
    ) -> RolloutResult | RolloutStatus:
        """Migrate a tier's tenants to `revision` in waves: the canaries, then each shard's
        tenants `batch` at a time, each wave one checkpoint `up` and one migrate `up`; a
        failing migration stops the rollout after its wave (the failed tenants rolled back,
        the wave's others kept, the later waves left as they were). See `_rollout.py`.
        PostgreSQL mode: checked here, then queued as one operation a worker runs (one
        rollout per tier at a time: OperationInProgress, 409); `wait=False` returns its
        RolloutStatus, `wait_rollout(status.operation)` its result (`_rollout_ops.py`).
        Embedded default: runs here; `wait=False` then returns the finished status.
        `migration_command` brings in the fleet's command with the rollout (checkpoints
        first), e.g. the first command of a fleet whose tenants already have a revision."""
        if self.queue is None:
            done = rollout(self, tier, revision, canary=canary, batch=batch,
                           migration_command=migration_command)
            if wait:
                return done
            return RolloutStatus(operation=0, tier=tier, revision=revision, status="done",
                                 result=done)
        queued = submit_rollout(self, tier, revision, canary=canary, batch=batch,
                                migration_command=migration_command)
        return wait_rollout(self, queued.operation, timeout) if wait else queued

    def rollout_status(self, operation: int) -> RolloutStatus:
        """A queued rollout's status (PostgreSQL mode)."""
        return rollout_status(self, operation)

    def wait_rollout(self, operation: int, timeout: float = 3600.0) -> RolloutResult:
        """Until a queued rollout ends: its RolloutResult, or its failure raised."""
        return wait_rollout(self, operation, timeout)

    def set_fleet_revision(
        self, tier: str, *, app_revision: str | None = None,
        migration_command: str | None = None,
    ) -> FleetSpec:
        """Set the app revision a tier's tenants run and/or the command that migrates them
        (the fleet-level fields of `stacks/fleets/<tier>.yaml`), in either store. Each rule
        runs before any write (422 naming the field and the tier). Fleet files: the file is
        rewritten, the next `up` applies it. PostgreSQL: tenants without a revision pin of
        their own go `pending` and their shards are queued. No checkpoint is taken, so a new
        revision that would migrate a tenant (no pin, a command in force) is refused (422):
        `rollout` checkpoints first. See `_fleet_settings.py`."""
        return set_fleet_revision(self, tier, app_revision, migration_command)

    def _left_in_a_stack(self, tenant: str) -> str | None:
        """The tier whose stack still has outputs for a tenant no fleet lists, if any."""
        for tier in self.tiers_on_disk():
            fleet = self.fleet(tier)
            if self._outputs(self.stack_of(fleet, tenant)).get(tenant):
                return tier
        return None

    def archives(self, tenant: str) -> list[Path]:
        """The tenant's archive manifests (oldest first), also after it was deleted."""
        from neon_tenants.archive import list_manifests

        if self.archive is None:
            return []
        return list_manifests(self.archive.dir, tenant)

    @overload
    def restore_archive(self, manifest: Path, tenant: str | None = None,
                        tier: str | None = None, *, wait: Literal[True] = True,
                        timeout: float = 3600.0) -> TenantConnection: ...

    @overload
    def restore_archive(self, manifest: Path, tenant: str | None = None,
                        tier: str | None = None, *, wait: Literal[False],
                        timeout: float = 3600.0) -> TenantStatus: ...

    def restore_archive(
        self, manifest: Path, tenant: str | None = None, tier: str | None = None, *,
        wait: bool = True, timeout: float = 3600.0,
    ) -> TenantConnection | TenantStatus:
        """Bring an archive back into a new project: checks the archive against its manifest
        before anything is created, provisions `tenant` (default: the archived tenant's id)
        in `tier` (default: its tier), then pg_restores into it in one transaction. A rerun
        after a crash reuses the new tenant while its database is still empty.
        PostgreSQL mode: the checks run here (422 before anything is queued), then ONE
        `restore_archive` operation a worker runs (provision + pg_restore, the same code):
        the manifest's absolute path must be readable by the workers (one shared
        NEON_TENANTS_ARCHIVE_DIR, where their deletes write the archives anyway).
        `wait=False` returns the tenant's status; `status`/`wait` follow it."""
        if self.queue is not None:
            name, tier_name = self._archive_plan(Path(manifest), tenant, tier)
            args = {"manifest": str(Path(manifest).resolve()), "tier": tier_name}
            done = self._enqueue("restore_archive", self.placement(tier_name, name), name,
                                 args, wait, timeout)
            return done if isinstance(done, TenantStatus) else self._connected(name)
        conn = self._restore_archive_here(Path(manifest), tenant, tier)
        return conn if wait else self.status(conn.tenant)

    def _archive_plan(
        self, manifest: Path, tenant: str | None, tier: str | None
    ) -> tuple[str, str]:
        """The archive checked against its manifest, the tenant id and tier checked: (id,
        tier) before anything is created."""
        from neon_tenants.archive import ArchiveCorrupt, read_manifest

        try:
            archived = read_manifest(Path(manifest))
            archived.verify(Path(manifest))
        except (OSError, ValueError, ArchiveCorrupt) as exc:
            raise InvalidRequest(f"archive {manifest}: {exc}") from exc
        name, tier_name = tenant or archived.tenant, tier or archived.tier
        self._tier(tier_name)
        self._validate(self._build(tier_name, lambda: TenantSpec(id=name)), tier_name)
        return name, tier_name

    def _restore_archive_here(
        self, manifest: Path, tenant: str | None, tier: str | None
    ) -> TenantConnection:
        from neon_tenants.archive import ArchiveError, restore_dump
        from neon_tenants.archive.dump import database_is_empty

        name, tier_name = self._archive_plan(manifest, tenant, tier)
        existed = self.locate(name) is not None
        conn = self.provision(name, tier_name)
        uri = conn.connection_uri.get_secret_value()
        try:
            if existed and not database_is_empty(uri):
                raise TenantConflict(
                    f"tenant {name!r} exists and its database is not empty; restore the "
                    "archive under a new tenant id"
                )
            stack = conn.stack
            self._emit(StackProgress(stack, "imperative", f"pg_restore {Path(manifest).name}"))
            restore_dump(Path(manifest), uri)
        except ArchiveError as exc:
            raise ArchiveFailed(f"restore of {manifest} into {name!r} failed: {exc}") from exc
        return conn

    # -- data lifecycle: undo, snapshots -------------------------------------------------

    @overload
    def restore(self, tenant: str, timestamp: datetime | str, *, wait: Literal[True] = True,
                timeout: float = 600.0) -> RestoreResult: ...

    @overload
    def restore(self, tenant: str, timestamp: datetime | str, *, wait: Literal[False],
                timeout: float = 600.0) -> TenantStatus: ...

    def restore(self, tenant: str, timestamp: datetime | str, *, wait: bool = True,
                timeout: float = 600.0) -> RestoreResult | TenantStatus:
        """Undo: restore the LIVE default branch in place to `timestamp` (never the id the
        outputs remember, which a snapshot restore may have left on an `(old)` branch); the
        pre-restore state is kept as a branch so the undo can itself be undone, and the
        tier's hygiene policy prunes older ones so the branch cap is never reached."""
        where, _ = self._where(tenant)
        when = self._restore_point(where, timestamp)
        # named here: a worker's rerun after a crash finds it and does not restore twice
        keep = f"{_hygiene.PRE_RESTORE}{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
        if self.queue is not None:
            args = {"timestamp": when, "keep": keep}
            done = self._enqueue("restore", where, tenant, args, wait, timeout)
            if isinstance(done, TenantStatus):
                return done
            return RestoreResult.model_validate(done.result)
        result = self._restore_here(tenant, where, when, keep)
        return result if wait else self.status(tenant)

    def _restore_point(self, where: Placement, timestamp: datetime | str) -> str:
        """The timestamp as RFC 3339, refused (422) when malformed or outside the tier's
        history retention window."""
        from neon_tenants.tenant import point_in_time

        when = timestamp if isinstance(timestamp, str) else _iso(timestamp)
        try:
            moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidRequest(f"timestamp: {exc}", tier=where.tier,
                                 field="timestamp") from None
        bad = point_in_time(moment, self._tier(where.tier), "timestamp")
        if bad:
            raise InvalidRequest(f"{bad[0].property}: {bad[0].reason}", tier=where.tier,
                                 field="timestamp")
        return when

    def _restore_here(
        self, tenant: str, where: Placement, when: str, keep: str
    ) -> RestoreResult:
        conn = self._connection(self._outputs(where.stack), where, tenant)
        tier = self._tier(where.tier)
        with shard_lock(self.lock_dir, where.stack, self.lock_conninfo), guard(where.stack):
            self._emit(StackProgress(where.stack, "imperative", f"restore to {when}"))
            org = self.client.for_project(conn.project_id, tier.org)
            live = _hygiene.live_default(org, conn.project_id)
            limits = self._limits(tier)
            if any(b.name == keep for b in org.iter_branches(conn.project_id)):
                # a rerun (the worker was killed after the restore): done already
                return RestoreResult(tenant=tenant, branch_id=live, restored_to=when,
                                     preserved_branch=keep)
            _hygiene.prune(org, conn.project_id, tier, limits, room_for=1)
            org.restore_branch(
                conn.project_id,
                live,
                source_branch_id=live,
                source_timestamp=when,
                preserve_under_name=keep,
            )
            # the restore re-parents the live branch on the branch just preserved, which
            # frees the previous one: prune again so the tier keeps what it promises
            _hygiene.prune(org, conn.project_id, tier, limits, room_for=0)
        return RestoreResult(tenant=tenant, branch_id=live, restored_to=when,
                             preserved_branch=keep)

    @overload
    def snapshot(self, tenant: str, name: str, *, pinned: bool = False,
                 wait: Literal[True] = True, timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def snapshot(self, tenant: str, name: str, *, pinned: bool = False,
                 wait: Literal[False], timeout: float = 600.0) -> TenantStatus: ...

    def snapshot(self, tenant: str, name: str, *, pinned: bool = False, wait: bool = True,
                 timeout: float = 600.0) -> TenantConnection | TenantStatus:
        """Declare a snapshot; over the tier's cap the oldest unpinned one is dropped first
        (a separate `up`, since the org's snapshot limit counts during the swap)."""
        if self.queue is None:
            conn = self._snapshot(tenant, name, pinned=pinned)
            return conn if wait else self.status(tenant)
        where = self._snapshot_plan(tenant, name, pinned=pinned)
        args = {"name": name, "pinned": pinned}
        return self._queued_connection("snapshot", where, tenant, args, wait, timeout)

    def _queued_connection(
        self, kind: str, where: Placement, tenant: str, args: Mapping[str, object],
        wait: bool, timeout: float,
    ) -> TenantConnection | TenantStatus:
        done = self._enqueue(kind, where, tenant, args, wait, timeout)
        return done if isinstance(done, TenantStatus) else self._connected(tenant)

    def _snapshot_plan(self, tenant: str, name: str, *, pinned: bool) -> Placement:
        """A snapshot's rules before it is queued (its shape; the tier's cap with every
        snapshot pinned): where the tenant is. Nothing is written."""
        where, spec = self._where(tenant)
        self._build(where.tier, lambda: SnapshotSpec(name=name, pinned=pinned))
        if spec.snapshot(name) is None:
            self._snapshot_room(where.tier, spec, name, pinned=pinned)
        return where

    def _snapshot(
        self,
        tenant: str,
        name: str,
        *,
        pinned: bool = False,
        also: Callable[[TenantSpec], TenantSpec] = lambda s: s,
    ) -> TenantConnection:
        """`snapshot`, with `also` applied in the same fleet edit and `up` as the new snapshot
        (a checkpoint records itself with its snapshot: one `up`, not two)."""
        where, spec = self._where(tenant)
        if spec.snapshot(name) is not None:
            # declared already, but a run killed between the fleet write and its `up` never
            # made it: `up` again (a no-op when it exists) instead of trusting the fleet file
            return self._change(tenant, also)
        keep, new = self._snapshot_room(where.tier, spec, name, pinned=pinned)
        if keep is not None:
            self._change(tenant, lambda s: s.model_copy(update={"snapshots": keep}))
        return self._change(
            tenant, lambda s: also(s.model_copy(update={"snapshots": (*s.snapshots, new)}))
        )

    def _snapshot_room(
        self, tier_name: str, spec: TenantSpec, name: str, *, pinned: bool = False
    ) -> tuple[tuple[SnapshotSpec, ...] | None, SnapshotSpec]:
        """The new snapshot entry, and the snapshots kept when the tier's cap makes the
        oldest unpinned ones go first (None: none goes). Validated; nothing is written."""
        tier = self._tier(tier_name)
        cap = self._limits(tier).snapshot_cap
        new = self._build(tier_name, lambda: SnapshotSpec(name=name, pinned=pinned))
        keep = list(spec.snapshots)
        while len(keep) + 1 > cap:
            victim = next((s for s in keep if not s.pinned), None)
            if victim is None:
                raise InvalidRequest(
                    f"snapshots: tier {tier.name} allows {cap} snapshots and all are pinned; "
                    "unpin or delete one first", tier=tier.name, field="snapshots",
                )
            keep.remove(victim)
        self._validate(spec.model_copy(update={"snapshots": (*keep, new)}), tier_name)
        return (tuple(keep) if len(keep) != len(spec.snapshots) else None), new

    @overload
    def restore_snapshot(self, tenant: str, name: str, *, wait: Literal[True] = True,
                         timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def restore_snapshot(self, tenant: str, name: str, *, wait: Literal[False],
                         timeout: float = 600.0) -> TenantStatus: ...

    def restore_snapshot(self, tenant: str, name: str, *, wait: bool = True,
                         timeout: float = 600.0) -> TenantConnection | TenantStatus:
        where, spec = self._where(tenant)
        if spec.snapshot(name) is None:
            raise TenantNotFound(f"tenant {tenant!r} has no snapshot {name!r}")
        # drawn here, so a worker's rerun after a crash re-applies this one restore
        token = uuid.uuid4().hex[:12]
        if self.queue is not None:
            args = {"name": name, "token": token}
            return self._queued_connection("restore_snapshot", where, tenant, args, wait,
                                           timeout)
        conn = self._restore_snapshot(tenant, name, token)
        return conn if wait else self.status(tenant)

    def _restore_snapshot(self, tenant: str, name: str, token: str) -> TenantConnection:
        def edit(s: TenantSpec) -> TenantSpec:
            snaps = tuple(
                x.model_copy(update={"restore_trigger": token}) if x.name == name else x
                for x in s.snapshots
            )
            return s.model_copy(update={"snapshots": snaps})

        return self._follow_default_branch(tenant, self._change(tenant, edit))

    def _follow_default_branch(self, tenant: str, conn: TenantConnection) -> TenantConnection:
        """A finalized snapshot restore gives the default branch a new id, which the project
        resource cannot see (`diff` makes no API calls): when the live id moved, refresh the
        project alone, then `up` so the outputs and the quota follow it. Dev branches keep
        their Neon parent (their `parent_branch_id` is read at create and reset only), so
        this is safe with or without them."""
        where, _ = self._where(tenant)
        tier = self._tier(where.tier)
        with guard(where.stack):
            org = self.client.for_project(conn.project_id, tier.org)
            live = _hygiene.live_default(org, conn.project_id)
        if live == conn.branch_id:
            return conn
        with shard_lock(self.lock_dir, where.stack, self.lock_conninfo):
            self._emit(StackProgress(where.stack, "imperative", "refresh the project"))
            project = self.runner.project(where.stack)
            self.runner.refresh(where.stack, [project_urn(where.stack, project, tenant)])
            outputs = self.runner.up(where.tier, where.shard, tenant=tenant)
        return self._connection(outputs, where, tenant)

    # -- dev branches ---------------------------------------------------------------------

    @overload
    def create_dev_branch(
        self, tenant: str, name: str, parent: str = "production", *,
        wait: Literal[True] = True, timeout: float = 600.0, **settings: Any,
    ) -> TenantConnection: ...

    @overload
    def create_dev_branch(
        self, tenant: str, name: str, parent: str = "production", *,
        wait: Literal[False], timeout: float = 600.0, **settings: Any,
    ) -> TenantStatus: ...

    def create_dev_branch(
        self, tenant: str, name: str, parent: str = "production", *,
        wait: bool = True, timeout: float = 600.0, **settings: Any,
    ) -> TenantConnection | TenantStatus:
        """Declare a dev branch (optionally at `parent_timestamp` or `parent_lsn`). The tier's
        branch cap counts the branches Neon actually has (kept undo branches, `(old)`
        branches), and a point in time outside the retention window is refused, all before
        the fleet is written or Neon is called (PostgreSQL mode: the declared branches
        before it is queued, Neon's undeclared ones again in the worker)."""
        where, spec = self._where(tenant)
        branch = self._build(
            where.tier, lambda: DevBranchSpec(name=name, parent=parent, **settings)
        )
        if self.queue is None:
            conn = self._create_dev_branch(tenant, branch)
            return conn if wait else self.status(tenant)
        self._validate(self._build(where.tier, lambda: spec.with_dev_branch(branch)),
                       where.tier, before=spec)
        args = {"branch": branch.model_dump(mode="json")}
        return self._queued_connection("create_dev_branch", where, tenant, args, wait,
                                       timeout)

    def _create_dev_branch(self, tenant: str, branch: DevBranchSpec) -> TenantConnection:
        where, _ = self._where(tenant)
        return self._change(tenant, lambda s: s.with_dev_branch(branch),
                            extra_branches=lambda s: self._undeclared_branches(where, s))

    def _undeclared_branches(self, where: Placement, spec: TenantSpec) -> int:
        """Live branches the tenant's spec does not declare (they count against the cap)."""
        outputs = self._outputs(where.stack)
        if not outputs.get(spec.id):
            return 0
        conn = self._connection(outputs, where, spec.id)
        declared = {b.name for b in spec.dev_branches}
        with guard(where.stack):
            org = self.client.for_project(conn.project_id, self._tier(where.tier).org)
            live = list(org.iter_branches(conn.project_id))
        return sum(1 for b in live if not b.default and b.name not in declared)

    @overload
    def reset_dev_branch(self, tenant: str, name: str, *, wait: Literal[True] = True,
                         timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def reset_dev_branch(self, tenant: str, name: str, *, wait: Literal[False],
                         timeout: float = 600.0) -> TenantStatus: ...

    def reset_dev_branch(self, tenant: str, name: str, *, wait: bool = True,
                         timeout: float = 600.0) -> TenantConnection | TenantStatus:
        where, spec = self._where(tenant)
        if spec.dev_branch(name) is None:
            raise TenantNotFound(f"tenant {tenant!r} has no dev branch {name!r}")
        token = uuid.uuid4().hex[:12]
        if self.queue is not None:
            args = {"name": name, "token": token}
            return self._queued_connection("reset_dev_branch", where, tenant, args, wait,
                                           timeout)
        conn = self._reset_dev_branch(tenant, name, token)
        return conn if wait else self.status(tenant)

    def _reset_dev_branch(self, tenant: str, name: str, token: str) -> TenantConnection:
        _, spec = self._where(tenant)
        branch = spec.dev_branch(name)
        if branch is None:
            raise TenantNotFound(f"tenant {tenant!r} has no dev branch {name!r}")
        reset = branch.model_copy(update={"reset_trigger": token})
        return self._change(tenant, lambda s: s.with_dev_branch(reset))

    @overload
    def delete_dev_branch(self, tenant: str, name: str, *, wait: Literal[True] = True,
                          timeout: float = 600.0) -> TenantConnection: ...

    @overload
    def delete_dev_branch(self, tenant: str, name: str, *, wait: Literal[False],
                          timeout: float = 600.0) -> TenantStatus: ...

    def delete_dev_branch(self, tenant: str, name: str, *, wait: bool = True,
                          timeout: float = 600.0) -> TenantConnection | TenantStatus:
        where, spec = self._where(tenant)
        if self.queue is not None:
            self._validate(spec.without_dev_branch(name), where.tier, before=spec)
            return self._queued_connection("delete_dev_branch", where, tenant,
                                           {"name": name}, wait, timeout)
        conn = self._change(tenant, lambda s: s.without_dev_branch(name))
        return conn if wait else self.status(tenant)

    # -- fleet-wide (CLI, CI) ---------------------------------------------------------------

    def audit(self, *, fix: bool = False, timeout: float = 1800.0) -> AuditReport:
        """Compare Neon, the fleet and every stack's state (read-only); with `fix`, apply the
        safe repairs (see `automation/audit.py`) and return the audit made after them.
        PostgreSQL mode: the audit reads here; the repairs are queued, one operation per
        stack behind its shard lock, and run by workers (`_audit_ops.py`)."""
        from neon_tenants.automation._auditor import Auditor

        queue = self.queue
        if fix and queue is not None:
            from neon_tenants.automation._audit_ops import queued_repairs

            return queued_repairs(self, queue, timeout)
        return Auditor(self).run(fix=fix)

    def tiers_on_disk(self) -> list[str]:
        with guard():
            return [t for t in self.store.tiers() if t in self.catalog.tiers]

    def up(self, tier: str, shard: int | None = None) -> list[str]:
        """`up` every shard of a tier (or one); returns the stacks run. Shards are separate
        stacks (own engine, provider process and lock), so they run in parallel, one per
        core (`_parallel.py`, issue #16). PostgreSQL store: under the tier's shared lock,
        like a worker's runs (a `reshard` in progress is waited for)."""
        with self._reshard_guard(tier):
            fleet = self.fleet(tier)
            refs = [r for r in all_stacks(fleet) if shard is None or r.shard == shard]

            def one(ref: Any) -> None:
                with shard_lock(self.lock_dir, ref.name(fleet.shards), self.lock_conninfo):
                    self.runner.up(tier, ref.shard)

            in_parallel(one, refs, self.workers)
            return [r.name(fleet.shards) for r in refs]

    def destroy(self, tier: str, shard: int | None = None) -> list[str]:
        with self._reshard_guard(tier):
            fleet = self.fleet(tier)
            names = [r.name(fleet.shards) for r in all_stacks(fleet)
                     if shard in (None, r.shard)]
            for name in names:
                with shard_lock(self.lock_dir, name, self.lock_conninfo):
                    self.runner.destroy(name)
            return names

    def preview(self, tiers: list[str] | None = None) -> FleetDiff:
        """Preview every stack of the given tiers (default: all fleets on disk), shards in
        parallel; a shard whose state matches its program needs no engine run
        (`ShardRunner.preview`)."""
        jobs = [(tier, ref, self.fleet(tier).shards)
                for tier in tiers or self.tiers_on_disk()
                for ref in all_stacks(self.fleet(tier))]

        def one(job: tuple[str, Any, int]) -> tuple[str, list[PlannedStep]]:
            tier, ref, shards = job
            steps: list[PlannedStep] = []
            name = ref.name(shards)

            def collect(event: Any) -> None:
                step = step_from_event(name, tier, event)
                if step is not None:
                    steps.append(step)

            return self.runner.preview(tier, ref.shard, collect), steps

        results = in_parallel(one, jobs, self.workers)
        return fleet_diff([n for n, _ in results], [s for _, steps in results for s in steps])


def _archive_failure(engine_text: str) -> str | None:
    """The reason line our archive step printed (`archive failed: ...`), if that is what
    stopped the engine."""
    for line in engine_text.splitlines():
        at = line.find("archive failed: ")
        if at >= 0:
            return line[at + len("archive failed: ") :].strip()
    return None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
