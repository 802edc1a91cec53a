"""FleetManager: the Python API the platform backend calls (issue 7).

Design (tier moves). Stacks are per tier (`free`, `pro-03`, ...) so infra teams keep per-tier
stacks to `pulumi up`, and each tier's fleet file lists only its tenants. A tier change keeps
the Neon project: under both shards' locks (sorted, so two movers cannot deadlock) we
(1) refuse a downgrade whose usage does not fit, before any change; (2) transfer the project
to the target org (Neon has no org PATCH; CONTRACT.md section 1, Transfers); (3) add the
tenant to the target fleet with `adopt_project_id` and `up` the target shard, which adopts
the project and applies the target tier's quotas and compute; (4) drop the tenant's
resources from the source stack's state WITHOUT deleting them and remove it from the source
fleet. Exactly two small stacks are touched. A crash between (3) and (4) leaves both stacks
pointing at one project; re-running the same upgrade finishes the move (each step is
idempotent).

Every other operation touches one shard: edit the fleet file (atomic write, under the shard
lock and a short per-tier fleet lock), then `up` that shard with the inline program of
`fleet/program.py`. Undo (`restore`) is imperative through the client: point-in-time restore
is an action on data, not a declared state.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from neon_tenants.automation import _revisions, _usage
from neon_tenants.automation._errors import (
    ArchiveFailed,
    DeploymentFailed,
    InvalidRequest,
    LimitsExceeded,
    TenantConflict,
    TenantNotFound,
)
from neon_tenants.automation._locks import retry_concurrent, shard_lock, shard_locks
from neon_tenants.automation._queued import QueuedOps
from neon_tenants.automation._revisions import RollbackResult, RolloutResult
from neon_tenants.automation.audit import AuditReport
from neon_tenants.automation.events import COMPONENT_TYPE, StackProgress
from neon_tenants.automation.models import RestoreResult, TenantConnection, TenantStatus
from neon_tenants.automation.preview import FleetDiff, PlannedStep, fleet_diff, step_from_event
from neon_tenants.checkpoint import Checkpoint, MetadataValue
from neon_tenants.fleet.program import build_program
from neon_tenants.fleet.sharding import all_stacks

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
from neon_tenants.fleet.spec import DevBranchEntry, SnapshotEntry, TenantSpec


class FleetManager(QueuedOps):
    """Provision, move, undo and delete tenants; each call is safe to repeat and to run
    concurrently with others (per-shard queueing, retry on ConcurrentUpdateError).

    `FleetManager(stacks_dir, work_dir=..., backend_url=..., neon_env=..., on_event=...)`:
    fleets are read from `stacks_dir/fleets/<tier>.yaml`; `work_dir` holds Pulumi.yaml and the
    stack config files (the repo root, to share stacks with infra teams' `pulumi up`);
    `neon_env` (NEON_API_BASE_URL, NEON_CREDENTIALS_FILE, ...) reaches both our client and the
    dynamic providers; `on_event` receives typed progress events. Errors are FleetError
    subclasses carrying `.http_status`.
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

        `wait=False` returns the request's status at once (PostgreSQL mode: the row is
        written and the shard's run queued; a worker applies it); `status`/`wait` follow it.
        """
        self._tier(tier)
        try:
            wanted = spec or TenantSpec(id=tenant)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        if self.queue is not None:
            status = self._request(tier, wanted, wait, timeout)
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
        fleet = self.fleet(tier)
        stack = self.stack_of(fleet, tenant)
        with shard_lock(self.lock_dir, stack):
            self._emit(StackProgress(stack, "locked"))
            if found is not None:
                outputs = self._outputs(stack)
                if outputs.get(tenant):
                    return self._connection(outputs, fleet, tenant)
            # read under the shard lock: only this call can add the tenant to its shard
            added = self.fleet(tier).get(tenant) is None
            fleet = self._edit_fleet(tier, lambda f: f if f.get(tenant) else f.with_tenant(wanted))
            self._emit(StackProgress(stack, "fleet_written"))
            # a tenant this call added has never had a create sent: no list-by-name first
            outputs = self._up(tier, tenant, first_attempt=frozenset({tenant} if added else ()))
        return self._connection(outputs, fleet, tenant)

    def connections(self, tier: str) -> dict[str, TenantConnection]:
        """Every tenant of a tier with outputs, reading each shard's outputs once."""
        fleet = self.fleet(tier)
        out: dict[str, TenantConnection] = {}
        for ref in all_stacks(fleet):
            outputs = self._outputs(ref.name(fleet.shards))
            for tenant in fleet.tenants:
                if outputs.get(tenant.id) and self.stack_of(fleet, tenant.id) == ref.name(
                    fleet.shards
                ):
                    out[tenant.id] = self._connection(outputs, fleet, tenant.id)
        return out

    def show(self, tenant: str) -> TenantConnection:
        if self.queue is not None:
            return self._connection_of(self.queue.status(tenant))
        fleet, _ = self._require(tenant)
        return self._connection(self._outputs(self.stack_of(fleet, tenant)), fleet, tenant)

    def upgrade(self, tenant: str, tier: str) -> TenantConnection:
        return self._move(tenant, tier, check_usage=False)

    def downgrade(self, tenant: str, tier: str) -> TenantConnection:
        """Refused with the numbers (LimitsExceeded, 409) when usage exceeds the target tier."""
        return self._move(tenant, tier, check_usage=True)

    def _move(self, tenant: str, to_tier: str, *, check_usage: bool) -> TenantConnection:
        target = self._tier(to_tier)
        # a move interrupted after the target `up` lists the tenant twice: finish it
        sources = [f for f in self.locate_all(tenant) if f[0].tier != to_tier]
        if not sources:
            self._require(tenant)
            raise TenantConflict(f"tenant {tenant!r} is already in tier {to_tier}")
        src_fleet, spec = sources[0]
        source = self._tier(src_fleet.tier)
        dst_fleet = self.fleet(to_tier)
        src_stack, dst_stack = self.stack_of(src_fleet, tenant), self.stack_of(dst_fleet, tenant)
        with shard_locks(self.lock_dir, [src_stack, dst_stack]):
            self._emit(StackProgress(src_stack, "locked", f"move to {dst_stack}"))
            pid = (
                spec.adopt_project_id
                or self._connection(self._outputs(src_stack), src_fleet, tenant).project_id
            )
            with self._guard(src_stack):
                org = self.client.org(source.org)
                dst_org = self.client.org(target.org)
                # already transferred (same org, or a rerun of an interrupted move)?
                arrived = org.org_id == dst_org.org_id or _usage.holds(dst_org, pid)
                holder = dst_org if arrived else org
                if check_usage:
                    usage = _usage.read_usage(holder, pid)
                    found = _usage.violations(usage, target, self.catalog.orgs.get(target.org))
                    if found:
                        raise LimitsExceeded(
                            _usage.describe(tenant, to_tier, found),
                            violations=found,
                            usage=usage.model_dump(),
                        )
                if not arrived:
                    if check_usage:
                        self._emit(StackProgress(src_stack, "imperative", "fit settings"))
                        _usage.fit_settings(org, pid, target)
                    self._emit(StackProgress(src_stack, "imperative", "transfer project"))
                    _transfer(self.client, org.org_id, dst_org, pid)
            moved = spec.model_copy(
                update={"adopt_project_id": pid, "quota_overrides": {}, "compute_overrides": {}}
            )
            dst = self._edit_fleet(to_tier, lambda f: f.with_tenant(moved))
            self._emit(StackProgress(dst_stack, "fleet_written"))
            outputs = self._up(to_tier, tenant)
            with self._guard(src_stack):
                self.engine.forget(src_stack, tenant)
            self._edit_fleet(src_fleet.tier, lambda f: f.without_tenant(tenant))
            self._emit(StackProgress(src_stack, "fleet_written", f"{tenant} moved out"))
        return self._connection(outputs, dst, tenant)

    def adopt(self, project_id: str, tenant: str, tier: str) -> TenantConnection:
        """Bring an existing Neon project under management (no `pulumi import` for dynamic
        resources, hence the explicit adopt input)."""
        try:
            spec = TenantSpec(id=tenant, adopt_project_id=project_id)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        found = self.locate(tenant)
        if found is not None and found[1].adopt_project_id not in (None, project_id):
            raise TenantConflict(f"tenant {tenant!r} already manages another project")
        return self.provision(tenant, tier, spec if found is None else None)

    def delete(self, tenant: str) -> None:
        """Remove from the fleet and `up`: the engine first runs the tenant's archive step
        (archive before delete, issue 12: the archive Command depends on every other resource
        of the tenant, so it is deleted first), then deletes the project (Neon soft-deletes
        it, recoverable for 7 days). A failed archive stops the engine before anything else
        of the tenant is deleted: the tenant goes back into its fleet and ArchiveFailed says
        why.

        PostgreSQL mode: the row is marked for removal and the shard's run queued; this
        waits for it (the worker's run deletes the project, then the row).

        A rerun after a crash between the fleet write and the `up` finds the tenant in no
        fleet but still in its stack: it finishes the delete (issue 14)."""
        if self.queue is not None:
            self._remove_queued(tenant)
            return
        if self.locate(tenant) is None:
            tier = self._left_in_a_stack(tenant)
            if tier is None:
                raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
            stack = self.stack_of(self.fleet(tier), tenant)
            with shard_lock(self.lock_dir, stack):
                self._emit(StackProgress(stack, "imperative", f"finish deleting {tenant}"))
                self._up(tier, tenant)
            return
        fleet, spec = self._require(tenant)
        if spec.protected:
            raise InvalidRequest(
                f"tenant {tenant!r} is protected: set protected=false and run `up` first"
            )
        stack = self.stack_of(fleet, tenant)
        with shard_lock(self.lock_dir, stack):
            self._edit_fleet(fleet.tier, lambda f: f.without_tenant(tenant))
            self._emit(StackProgress(stack, "fleet_written"))
            try:
                self._up(fleet.tier, tenant)
            except DeploymentFailed as exc:
                reason = _archive_failure(str(exc))
                if reason is None:
                    raise
                self._edit_fleet(fleet.tier, lambda f: f if f.get(tenant) else f.with_tenant(spec))
                self._emit(StackProgress(stack, "fleet_written", f"{tenant} kept: archive failed"))
                raise ArchiveFailed(
                    f"tenant {tenant!r} was not deleted: {reason}", stack=stack
                ) from exc

    # -- compound checkpoints and migrations (issue 12; see _revisions.py) -------------------

    def checkpoint(
        self,
        tenant: str,
        label: str,
        *,
        app_revision: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> Checkpoint:
        """Snapshot + app revision (default: the tenant's current one) + metadata, recorded in
        the fleet store and the stack output; idempotent per label."""
        return _revisions.checkpoint(
            self, tenant, label, app_revision=app_revision, metadata=metadata
        )

    def checkpoints(self, tenant: str) -> list[Checkpoint]:
        return _revisions.checkpoints(self, tenant)

    def rollback(self, tenant: str, checkpoint: str | Checkpoint) -> RollbackResult:
        """Restore the checkpoint's snapshot; returns its app revision and metadata."""
        return _revisions.rollback(self, tenant, checkpoint)

    def rollout(self, tier: str, revision: str, *, canary: int = 1) -> RolloutResult:
        """Migrate a tier's tenants to `revision`: canaries first, then shard by shard;
        stops at the first failure (that tenant rolled back, the rest left as they were)."""
        return _revisions.rollout(self, tier, revision, canary=canary)

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

    def restore_archive(
        self, manifest: Path, tenant: str | None = None, tier: str | None = None
    ) -> TenantConnection:
        """Bring an archive back into a new project: checks the archive against its manifest
        before anything is created, provisions `tenant` (default: the archived tenant's id)
        in `tier` (default: its tier), then pg_restores into it in one transaction. A rerun
        after a crash reuses the new tenant while its database is still empty."""
        from neon_tenants.archive import ArchiveCorrupt, ArchiveError, read_manifest, restore_dump
        from neon_tenants.archive.dump import database_is_empty

        try:
            archived = read_manifest(Path(manifest))
            archived.verify(Path(manifest))
        except (OSError, ValueError, ArchiveCorrupt) as exc:
            raise InvalidRequest(f"archive {manifest}: {exc}") from exc
        name, tier_name = tenant or archived.tenant, tier or archived.tier
        self._tier(tier_name)
        try:
            TenantSpec(id=name)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
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

    def restore(self, tenant: str, timestamp: datetime | str) -> RestoreResult:
        """Undo: restore the default branch in place to `timestamp`; the pre-restore state is
        kept as a branch (preserve_under_name) so the undo can itself be undone."""
        conn = self.show(tenant)
        fleet, _ = self._require(tenant)
        when = timestamp if isinstance(timestamp, str) else _iso(timestamp)
        keep = f"pre-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        if not conn.branch_id:
            raise TenantNotFound(f"tenant {tenant!r} has no default branch id in its outputs")
        stack = self.stack_of(fleet, tenant)
        with shard_lock(self.lock_dir, stack), self._guard(stack):
            self._emit(StackProgress(stack, "imperative", f"restore to {when}"))
            org = self.client.for_project(conn.project_id, self._tier(fleet.tier).org)
            org.restore_branch(
                conn.project_id,
                conn.branch_id,
                source_branch_id=conn.branch_id,
                source_timestamp=when,
                preserve_under_name=keep,
            )
        return RestoreResult(
            tenant=tenant, branch_id=conn.branch_id, restored_to=when, preserved_branch=keep
        )

    def snapshot(self, tenant: str, name: str, *, pinned: bool = False) -> TenantConnection:
        """Declare a snapshot; over the tier's cap the oldest unpinned one is dropped first
        (a separate `up`, since the org's snapshot limit counts during the swap)."""
        fleet, spec = self._require(tenant)
        tier = self._tier(fleet.tier)
        org = self.catalog.orgs.get(tier.org)
        cap = min(tier.snapshot_cap, org.max_snapshots) if org else tier.snapshot_cap
        if any(s.name == name for s in spec.snapshots):
            # declared already, but a run killed between the fleet write and its `up` never
            # made it: `up` again (a no-op when it exists) instead of trusting the fleet file
            return self._change(tenant, lambda s: s)
        keep = list(spec.snapshots)
        while len(keep) + 1 > cap:
            victim = next((s for s in keep if not s.pinned), None)
            if victim is None:
                raise InvalidRequest(
                    f"tier {tier.name} allows {cap} snapshots and all are pinned; "
                    "unpin or delete one first"
                )
            keep.remove(victim)
        if len(keep) != len(spec.snapshots):
            self._change(tenant, lambda s: s.model_copy(update={"snapshots": tuple(keep)}))
        new = SnapshotEntry(name=name, pinned=pinned)
        return self._change(
            tenant, lambda s: s.model_copy(update={"snapshots": (*s.snapshots, new)})
        )

    def restore_snapshot(self, tenant: str, name: str) -> TenantConnection:
        _, spec = self._require(tenant)
        if not any(s.name == name for s in spec.snapshots):
            raise TenantNotFound(f"tenant {tenant!r} has no snapshot {name!r}")
        token = uuid.uuid4().hex[:12]

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
        project alone, then `up` so the outputs and the quota follow it.

        Not while the tenant has dev branches: their `parent_branch_id` would move too, and
        that is a replace whose create adopts the live branch by name and whose delete then
        removes it (the outputs lag instead until that is solved in DevBranch)."""
        fleet, spec = self._require(tenant)
        stack = self.stack_of(fleet, tenant)
        if spec.dev_branches:
            self._emit(StackProgress(stack, "imperative", "default branch id kept: dev branches"))
            return conn
        with self._guard(stack):
            org = self.client.for_project(conn.project_id, self._tier(fleet.tier).org)
            live = next((b.id for b in org.iter_branches(conn.project_id) if b.default), None)
        if live is None or live == conn.branch_id:
            return conn
        with shard_lock(self.lock_dir, stack):
            self._emit(StackProgress(stack, "imperative", "refresh the project"))
            with self._guard(stack):
                engine_stack = self.engine.stack(stack)
                project = engine_stack.workspace.project_settings().name
                urn = (
                    f"urn:pulumi:{stack}::{project}::{COMPONENT_TYPE}"
                    f"$pulumi-python:dynamic/neon:NeonTenantProject::{tenant}-project"
                )
                retry_concurrent(partial(engine_stack.refresh, target=[urn], color="never"))
            outputs = self._up(fleet.tier, tenant)
        return self._connection(outputs, fleet, tenant)

    def create_dev_branch(
        self, tenant: str, name: str, parent: str = "production", **settings: Any
    ) -> TenantConnection:
        try:
            branch = DevBranchEntry(name=name, parent=parent, **settings)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
        return self._change(tenant, lambda s: s.with_dev_branch(branch))

    def reset_dev_branch(self, tenant: str, name: str) -> TenantConnection:
        _, spec = self._require(tenant)
        branch = spec.dev_branch(name)
        if branch is None:
            raise TenantNotFound(f"tenant {tenant!r} has no dev branch {name!r}")
        token = uuid.uuid4().hex[:12]
        reset = branch.model_copy(update={"reset_trigger": token})
        return self._change(tenant, lambda s: s.with_dev_branch(reset))

    def delete_dev_branch(self, tenant: str, name: str) -> TenantConnection:
        return self._change(tenant, lambda s: s.without_dev_branch(name))

    # -- fleet-wide (CLI, CI) ---------------------------------------------------------------

    def audit(self, *, fix: bool = False) -> AuditReport:
        """Compare Neon, the fleet and every stack's state (read-only); with `fix`, apply the
        safe repairs (see `automation/audit.py`) and return the audit made after them."""
        from neon_tenants.automation._auditor import Auditor

        return Auditor(self).run(fix=fix)

    def tiers_on_disk(self) -> list[str]:
        return [t for t in sorted(self.catalog.tiers) if self.fleet_path(t).exists()]

    def up(self, tier: str, shard: int | None = None) -> list[str]:
        """`up` every shard of a tier (or one); returns the stacks run."""
        fleet = self.fleet(tier)
        refs = [r for r in all_stacks(fleet) if shard is None or r.shard == shard]
        for ref in refs:
            with shard_lock(self.lock_dir, ref.name(fleet.shards)):
                self._up(tier, shard=ref.shard)
        return [r.name(fleet.shards) for r in refs]

    def destroy(self, tier: str, shard: int | None = None) -> list[str]:
        fleet = self.fleet(tier)
        names = [r.name(fleet.shards) for r in all_stacks(fleet) if shard in (None, r.shard)]
        for name in names:
            with shard_lock(self.lock_dir, name), self._guard(name):
                self._emit(StackProgress(name, "engine_started", "destroy"))
                stack = self.engine.stack(name)
                retry_concurrent(partial(stack.destroy, color="never"))
                self._emit(StackProgress(name, "engine_done", "destroy"))
        return names

    def preview(self, tiers: list[str] | None = None) -> FleetDiff:
        """Preview every stack of the given tiers (default: all fleets on disk)."""
        steps: list[PlannedStep] = []
        names: list[str] = []
        for tier in tiers or self.tiers_on_disk():
            fleet = self.fleet(tier)
            for ref in all_stacks(fleet):
                name = ref.name(fleet.shards)
                names.append(name)
                program = build_program(tier, ref.shard, fleet, self.catalog, self.archive)

                def collect(event: Any, n: str = name, t: str = tier) -> None:
                    step = step_from_event(n, t, event)
                    if step is not None:
                        steps.append(step)

                with self._guard(name):
                    self._emit(StackProgress(name, "engine_started", "preview"))
                    stack = self.engine.stack(name)
                    retry_concurrent(
                        partial(stack.preview, program=program, on_event=collect, color="never")
                    )
                    self._emit(StackProgress(name, "engine_done", "preview"))
        return fleet_diff(names, steps)


def _archive_failure(engine_text: str) -> str | None:
    """The reason line our archive step printed (`archive failed: ...`), if that is what
    stopped the engine."""
    for line in engine_text.splitlines():
        at = line.find("archive failed: ")
        if at >= 0:
            return line[at + len("archive failed: ") :].strip()
    return None


def _transfer(client: NeonClient, src_org_id: str, dst_org: OrgClient, pid: str) -> None:
    """Transfer one project; a lost reply (act-then-drop) is settled by asking the target
    org whether it holds the project now, not by failing the move (issue 14 chaos matrix)."""
    from neon_tenants.client.errors import AmbiguousOutcome

    try:
        client.personal.transfer_projects(src_org_id, dst_org.org_id, [pid])
    except AmbiguousOutcome:
        if not _usage.holds(dst_org, pid):
            raise


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
