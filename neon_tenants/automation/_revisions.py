"""Compound checkpoints, rollback and fleet-wide migrations (issue 12).

A checkpoint is a snapshot (taken within the tier's cap and rotation, like any snapshot) plus
the app revision and metadata, recorded in the tenant's fleet entry and exported in its stack
output. A rollback restores the snapshot AND re-declares the checkpoint's app revision in the
same `up` (the migration Command depends on the snapshots, so the restore happens first):
the database, the declared revision and the migration Command's trigger agree again.

A rollout (`_rollout.py`) moves a tier to a new app revision in waves, each tenant of a wave
checkpointed here first (`pre-<revision>`) and rolled back with `restore_edit` when its
migration fails.

Migration commands must be idempotent for their revision: a rollback re-declares the old
revision, which may run its command again on the restored database, and a rollout killed
mid-migration runs it again (`_rollout.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from neon_tenants.automation._errors import InvalidRequest, TenantNotFound
from neon_tenants.automation.models import TenantConnection
from neon_tenants.checkpoint import (
    Checkpoint,
    CheckpointRecord,
    MetadataValue,
    check_label,
    check_revision,
    snapshot_name,
)
from neon_tenants.fleet.spec import FleetSpec, TenantSpec

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


def checkpoint_history(fm: FleetManager, tenant: str) -> list[CheckpointRecord]:
    """Every checkpoint recorded for the tenant, retired ones too, also after the tenant was
    deleted: the PostgreSQL store keeps them (`nt_checkpoints`); fleet files keep only the
    live ones (`checkpoints`)."""
    history = getattr(fm.store, "checkpoint_history", None)
    if history is None:
        raise InvalidRequest(
            "checkpoint history: the fleet files keep only live checkpoints (`checkpoints`); "
            "the history needs the PostgreSQL fleet store (NEON_TENANTS_DATABASE_URL)"
        )
    records: list[CheckpointRecord] = history(tenant)
    return records


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
    fleet, _ = fm._require(tenant)
    edit = partial(restore_edit, fleet, cp, uuid.uuid4().hex[:12])
    return fm._follow_default_branch(tenant, fm._change(tenant, edit))


def restore_edit(fleet: FleetSpec, cp: Checkpoint, token: str, spec: TenantSpec) -> TenantSpec:
    """The tenant's entry restoring `cp`'s snapshot (a new restore trigger) and declaring its
    app revision again (pinned unless it is the fleet's own)."""
    snaps = tuple(
        x.model_copy(update={"restore_trigger": token}) if x.name == cp.snapshot else x
        for x in spec.snapshots
    )
    pin = cp.app_revision if cp.app_revision != fleet.app_revision else None
    return spec.model_copy(update={"snapshots": snaps, "app_revision": pin})
