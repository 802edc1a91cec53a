"""Compound checkpoints, rollback and fleet-wide migrations (issue 12).

A checkpoint is a snapshot (taken within the tier's cap and rotation, like any snapshot) plus
the app revision and metadata, recorded in the tenant's fleet entry and exported in its stack
output. A rollback restores the snapshot AND re-declares the checkpoint's app revision in the
same `up` (the migration Command depends on the snapshots, so the restore happens first):
the database, the declared revision and the migration Command's trigger agree again.

A rollout moves a tier to a new app revision tenant by tenant: the `canary` first tenants
(sorted by id), then the rest shard by shard. Each tenant: checkpoint `pre-<revision>`, pin
the revision on the tenant (its migration Command is replaced: the migration runs once),
`up`. A failure stops the rollout: the failed tenant is rolled back to its checkpoint, the
tenants not reached keep their old revision, the ones done keep the new one. Sequential on
purpose: "stop at the first failure" needs one tenant's migration to finish before the next
starts. The fleet's own revision moves only when every tenant is on the new one. A rollout
run again after a crash (or after fixing a failed migration) skips the tenants done and
re-applies the pinned ones, whose `up` runs nothing when their migration already ran.

Migration commands must be idempotent for their revision: a rollback re-declares the old
revision, which may run its command again on the restored database (tools that record the
applied version in the database, such as alembic or flyway, do nothing then).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from neon_tenants.automation._errors import FleetError, InvalidRequest, TenantNotFound, scrub
from neon_tenants.automation.events import StackProgress
from neon_tenants.automation.models import TenantConnection
from neon_tenants.checkpoint import (
    Checkpoint,
    MetadataValue,
    check_label,
    check_revision,
    snapshot_name,
)
from neon_tenants.fleet.sharding import shard_for
from neon_tenants.fleet.spec import FleetSpec, TenantSpec
from neon_tenants.migrate import MIGRATE_SUFFIX

if TYPE_CHECKING:
    from neon_tenants.automation._manager import FleetManager


class RollbackResult(BaseModel):
    """What the platform redeploys after a rollback: the revision and metadata it recorded."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    checkpoint: str
    app_revision: str | None
    metadata: dict[str, MetadataValue]
    connection: TenantConnection

    def public(self) -> dict[str, object]:
        out = self.model_dump(mode="json", exclude={"connection"})
        out["connection"] = self.connection.public()
        return out


class RolloutResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: str
    revision: str
    migrated: list[str]
    """Tenants now on `revision` (including those that already were)."""
    failed: str | None = None
    error: str | None = None
    not_migrated: list[str] = []
    """Tenants left on their old revision because the rollout stopped."""

    @property
    def ok(self) -> bool:
        return self.failed is None


def checkpoint(
    fm: FleetManager,
    tenant: str,
    label: str,
    *,
    app_revision: str | None = None,
    metadata: Mapping[str, MetadataValue] | None = None,
) -> Checkpoint:
    """Snapshot + record, idempotent per label (a rerun after a crash finishes it)."""
    try:
        check_label(label)
        if app_revision is not None:
            check_revision(app_revision)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    fleet, spec = fm._require(tenant)
    found = next((c for c in spec.checkpoints if c.label == label), None)
    if found is not None:
        # recorded: but a run killed before its `up` never made the snapshot; `up` again
        # (a no-op when it exists)
        fm._snapshot(tenant, found.snapshot)
        return found
    try:
        record = Checkpoint(
            label=label,
            snapshot=snapshot_name(label),
            app_revision=app_revision or fleet.revision_of(spec),
            metadata=dict(metadata or {}),
            created_at=datetime.now(UTC),
        )
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    fm._snapshot(tenant, record.snapshot, also=lambda s: _recorded(s, record))
    return record


def _recorded(spec: TenantSpec, record: Checkpoint) -> TenantSpec:
    """Add the record; drop records whose snapshot the tier's rotation removed."""
    live = {s.name for s in spec.snapshots}
    kept = tuple(c for c in spec.checkpoints if c.snapshot in live and c.label != record.label)
    return spec.model_copy(update={"checkpoints": (*kept, record)})


def checkpoints(fm: FleetManager, tenant: str) -> list[Checkpoint]:
    _, spec = fm._require(tenant)
    live = {s.name for s in spec.snapshots}
    return [c for c in spec.checkpoints if c.snapshot in live]


def rollback(fm: FleetManager, tenant: str, label: str | Checkpoint) -> RollbackResult:
    """Restore the checkpoint's snapshot and re-declare its app revision, in one `up`."""
    wanted = label.label if isinstance(label, Checkpoint) else label
    cp = next((c for c in checkpoints(fm, tenant) if c.label == wanted), None)
    if cp is None:
        known = ", ".join(c.label for c in checkpoints(fm, tenant)) or "none"
        raise TenantNotFound(f"tenant {tenant!r} has no checkpoint {wanted!r} (has: {known})")
    conn = _restore(fm, tenant, cp)
    return RollbackResult(
        tenant=tenant,
        checkpoint=cp.label,
        app_revision=cp.app_revision,
        metadata=dict(cp.metadata),
        connection=conn,
    )


def _restore(fm: FleetManager, tenant: str, cp: Checkpoint) -> TenantConnection:
    token = uuid.uuid4().hex[:12]
    fleet, _ = fm._require(tenant)

    def edit(s: TenantSpec) -> TenantSpec:
        snaps = tuple(
            x.model_copy(update={"restore_trigger": token}) if x.name == cp.snapshot else x
            for x in s.snapshots
        )
        pin = cp.app_revision if cp.app_revision != fleet.app_revision else None
        return s.model_copy(update={"snapshots": snaps, "app_revision": pin})

    return fm._follow_default_branch(tenant, fm._change(tenant, edit))


def rollout_order(fleet: FleetSpec, canary: int) -> list[str]:
    """Canaries (the first `canary` ids), then the rest shard by shard, ids sorted."""
    ids = sorted(t.id for t in fleet.tenants)
    first, rest = ids[:canary], ids[canary:]
    return first + sorted(rest, key=lambda t: (shard_for(fleet, t) or 0, t))


def rollout(fm: FleetManager, tier: str, revision: str, *, canary: int = 1) -> RolloutResult:
    try:
        check_revision(revision)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    if canary < 0:
        raise InvalidRequest(f"canary must be >= 0 (got {canary}) for tier {tier}")
    fleet = fm.fleet(tier)
    missing = [t.id for t in fleet.tenants if fleet.migration_of(t) is None]
    if missing:
        raise InvalidRequest(
            f"tier {tier}: no migration_command for {', '.join(missing)}; set "
            "`migration_command` in the fleet (or per tenant) before a rollout"
        )
    order = rollout_order(fleet, canary)
    done: list[str] = []
    for i, tenant in enumerate(order):
        spec = fm.fleet(tier).get(tenant)
        if spec is None:  # deleted meanwhile
            continue
        old = fm.fleet(tier).revision_of(spec)
        if old == revision and spec.app_revision != revision:
            done.append(tenant)
            continue
        # pinned to `revision` already: an interrupted rollout (or an earlier canary); the
        # checkpoint below exists (idempotent per label) and the `up` converges: it runs the
        # migration if the crash came before it, nothing otherwise
        stack = fm.stack_of(fleet, tenant)
        fm._emit(StackProgress(stack, "imperative", f"migrate {tenant}: {old} -> {revision}"))
        cp = checkpoint(
            fm,
            tenant,
            f"pre-{revision}".lower()[:41],
            app_revision=old,
            metadata={"rollout": revision, "from": old},
        )
        try:
            fm._change(tenant, lambda s: s.model_copy(update={"app_revision": revision}))
        except FleetError as exc:
            fm._emit(StackProgress(stack, "imperative", f"migration failed: roll {tenant} back"))
            _restore(fm, tenant, cp)
            return RolloutResult(
                tier=tier,
                revision=revision,
                migrated=done,
                failed=tenant,
                error=migration_error(exc, tenant),
                not_migrated=order[i + 1 :],
            )
        done.append(tenant)
    _finish(fm, tier, revision)
    return RolloutResult(tier=tier, revision=revision, migrated=done)


def migration_error(exc: FleetError, tenant: str) -> str:
    """The engine's diagnostics block of the tenant's migration Command (its stderr), from
    the full engine output; the order of the blocks varies, so a fixed tail may miss it."""
    full = str(exc.__cause__ or exc)
    lines = full.splitlines()
    header = f"({tenant}{MIGRATE_SUFFIX})"
    for i, line in enumerate(lines):
        if header in line and line.rstrip().endswith("):"):
            block = [line.strip()]
            for nxt in lines[i + 1 :]:
                if not nxt.strip() or (nxt.startswith("  ") and not nxt.startswith("    ")):
                    break
                block.append(nxt.strip())
            return scrub("\n".join(block))
    return str(exc)


def _finish(fm: FleetManager, tier: str, revision: str) -> None:
    """Every tenant is on `revision`: make it the fleet's and drop the per-tenant pins (the
    effective revisions do not change, so no `up` is needed). A store that cannot edit a
    fleet as a whole keeps the per-tenant pins, which say the same."""

    def edit(f: FleetSpec) -> FleetSpec:
        tenants = tuple(
            t.model_copy(update={"app_revision": None}) if t.app_revision == revision else t
            for t in f.tenants
        )
        return f.model_copy(update={"app_revision": revision, "tenants": tenants})

    try:
        fm._edit_fleet(tier, edit)
    except InvalidRequest:
        fm._emit(StackProgress(tier, "imperative", f"tenants keep their {revision} pins"))
