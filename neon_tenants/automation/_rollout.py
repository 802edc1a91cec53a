"""Fleet-wide schema migrations, a wave at a time (issue 12).

`rollout(tier, revision, canary=N, batch=B)` moves a tier's tenants to a new app revision in
waves: first the `canary` first tenants (ids sorted), then each shard's other tenants, `batch`
at a time. A wave's tenants share one stack, so a wave costs one engine run per step, whatever
its size (a 1,000-tenant tier is 1,000 / B waves, not 1,000 runs):

1. **checkpoint `up`**: every tenant of the wave gets a `pre-<revision>` checkpoint (snapshot +
   the revision it is leaving), all written to the store at once, then one `up` scoped to
   the wave takes the snapshots. When the tier's snapshot cap is reached, one more `up` drops
   the oldest unpinned snapshots first (the org counts its snapshots during a swap).
2. **migrate `up`**: every tenant of the wave is pinned to the revision (its migration
   Command is replaced: the migration runs once) and one `up` scoped to the wave runs with
   `continue_on_error`, so one tenant's failing migration does not stop the others; the
   engine's events tell which tenants failed (`events.TenantFailures`).
3. when some failed: one `up` restores each failed tenant's checkpoint and declares its old
   revision again (`_revisions.restore_edit`); the wave's other tenants stay migrated, the
   later waves are not started, and the result names every failure with the migration's own
   (scrubbed) diagnostics.

The fleet's own revision moves only when every tenant is on the new one (then the pins go).
A rerun of the same rollout (after a crash, or after fixing a failed migration) continues
where it stopped: tenants whose revision the fleet already declares are done; a tenant
pinned to the revision is in progress, its checkpoint (idempotent per label) and its `up` are
applied again: a no-op when they already happened, the missing part otherwise. A migration
whose run was killed mid-way is run again by the rerun, possibly while the killed run's copy
is still going (plugins outlive a kill of the engine), which is why migration commands must be
idempotent for their revision and lock against a copy of themselves (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from neon_tenants.automation._errors import FleetError, InvalidRequest
from neon_tenants.automation._locks import shard_lock
from neon_tenants.automation._revisions import _recorded, restore_edit
from neon_tenants.automation._runner import guard
from neon_tenants.automation._store import Placement
from neon_tenants.automation.events import StackProgress, TenantFailures
from neon_tenants.checkpoint import Checkpoint, check_revision, snapshot_name
from neon_tenants.fleet.spec import FleetSpec, TenantSpec

if TYPE_CHECKING:
    from neon_tenants.automation._manager import FleetManager
    from neon_tenants.tenant import SnapshotSpec

DEFAULT_BATCH = 50
"""Tenants per wave: a bounded scope per engine run (its program, state diff and the
migrations the command provider runs at once)."""

Edit = Callable[[TenantSpec], TenantSpec]


class RolloutResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: str
    revision: str
    migrated: list[str]
    """Tenants now on `revision` (including those that already were)."""
    failed: str | None = None
    """The first tenant whose migration failed (all of them: `failures`)."""
    error: str | None = None
    failures: dict[str, str] = {}
    """Every failed tenant of the stopped wave -> its migration's diagnostics (scrubbed);
    each was rolled back to its checkpoint."""
    not_migrated: list[str] = []
    """Tenants of the waves not started because the rollout stopped (old revision)."""
    waves: int = 0
    """Waves that ran an engine (waves whose tenants were all done already are skipped)."""

    @property
    def ok(self) -> bool:
        return self.failed is None


@dataclass(frozen=True)
class Wave:
    """Tenants migrated together: one stack, at most `batch` of them."""

    shard: int | None
    stack: str
    tenants: tuple[str, ...]


def checkpoint_label(revision: str, command: str | None = None) -> str:
    """`pre-<revision>`; a rollout that also brings in a migration command (it may run at
    the revision the tenant is on already) takes `pre-<hash>-<revision>`, never an older
    `pre-<revision>` checkpoint taken before that revision's own migration."""
    if command is None:
        return f"pre-{revision}".lower()[:41]
    digest = hashlib.sha256(command.encode()).hexdigest()[:8]
    return f"pre-{digest}-{revision}".lower()[:41]


def rollout_waves(fleet: FleetSpec, canary: int, batch: int) -> list[Wave]:
    """The canaries (the first `canary` ids), then the rest shard by shard, `batch` at a
    time, ids sorted; canaries in several shards make one wave per shard."""
    ids = sorted(t.id for t in fleet.tenants)
    waves: list[Wave] = []
    for group in (ids[:canary], ids[canary:]):
        by_stack: dict[str, list[str]] = {}
        shard_of: dict[str, int | None] = {}
        for tenant in group:
            where = Placement.of(fleet.tier, fleet.shards, tenant, fleet.platform)
            by_stack.setdefault(where.stack, []).append(tenant)
            shard_of[where.stack] = where.shard
        for stack in sorted(by_stack, key=lambda s: shard_of[s] or 0):
            members = by_stack[stack]
            waves += [Wave(shard_of[stack], stack, tuple(members[i : i + batch]))
                      for i in range(0, len(members), batch)]
    return waves


def check_rollout(
    fm: FleetManager, tier: str, revision: str, *, canary: int, batch: int,
    migration_command: str | None = None,
) -> FleetSpec:
    """Every rule of a rollout, before anything is written or queued; returns the fleet."""
    fm._tier(tier)  # an unknown tier names the allowed ones
    try:
        check_revision(revision)
    except ValueError as exc:
        raise InvalidRequest(f"revision: {exc} (tier {tier})", tier=tier,
                             field="revision") from exc
    if canary < 0:
        raise InvalidRequest(f"canary must be >= 0 (got {canary}) for tier {tier}",
                             tier=tier, field="canary")
    if batch < 1:
        raise InvalidRequest(f"batch must be >= 1 (got {batch}) for tier {tier}",
                             tier=tier, field="batch")
    if migration_command is not None and not migration_command.strip():
        raise InvalidRequest(f"migration_command: must not be empty (tier {tier})", tier=tier,
                             field="migration_command")
    fleet = fm.fleet(tier)
    missing = [t.id for t in fleet.tenants
               if (t.migration_command or migration_command or fleet.migration_command) is None]
    if missing:
        raise InvalidRequest(
            f"tier {tier}: no migration_command for {', '.join(missing)}; set "
            "`migration_command` in the fleet (or per tenant) before a rollout",
            tier=tier, field="migration_command",
        )
    return fleet


def rollout(
    fm: FleetManager, tier: str, revision: str, *, canary: int = 1, batch: int = DEFAULT_BATCH,
    migration_command: str | None = None,
) -> RolloutResult:
    """`migration_command`: the fleet's command from now on, brought in by this rollout (a
    checkpoint first, like any migration): tenants without a command of their own get it
    pinned with the revision, and the fleet takes both at the end."""
    command = migration_command
    fleet = check_rollout(fm, tier, revision, canary=canary, batch=batch,
                          migration_command=command)
    waves = rollout_waves(fleet, canary, batch)
    migrated: list[str] = []
    ran = 0
    for i, wave in enumerate(waves):
        fleet = _fleet_of(fm, tier, wave)
        present = [t for t in wave.tenants if fleet.get(t) is not None]  # none deleted since
        todo = [t for t in present if not _done(fleet, fleet.require(t), revision, command)]
        if todo:
            ran += 1
            fm._emit(StackProgress(wave.stack, "imperative",
                                   f"wave {i + 1}/{len(waves)}: {len(todo)} tenants -> {revision}"))
            records = _checkpoint(fm, tier, wave, todo, revision, command)
            pin = partial(_pin, revision, command)
            failures = _apply(fm, tier, wave, dict.fromkeys(todo, pin), continue_on_error=True)
            if failures:
                _roll_back(fm, tier, wave, failures, records, command)
                first = next(t for t in wave.tenants if t in failures)
                return RolloutResult(
                    tier=tier, revision=revision,
                    migrated=migrated + [t for t in present if t not in failures],
                    failed=first, error=failures[first], failures=failures,
                    not_migrated=[t for w in waves[i + 1 :] for t in w.tenants], waves=ran,
                )
        migrated += present
    _finish(fm, tier, revision, command)
    return RolloutResult(tier=tier, revision=revision, migrated=migrated, waves=ran)


def _fleet_of(fm: FleetManager, tier: str, wave: Wave) -> FleetSpec:
    """The tier's fleet with the wave's shard only (the PostgreSQL store reads one shard's
    rows, not the whole tier's)."""
    with guard(wave.stack):
        return fm.store.load(tier, wave.shard)


def _done(fleet: FleetSpec, spec: TenantSpec, revision: str, command: str | None) -> bool:
    """On `revision` (and `command`, when the rollout brings one) through the fleet (a pin
    to it means a rollout in progress)."""
    if fleet.revision_of(spec) != revision or spec.app_revision == revision:
        return False
    return command is None or spec.migration_command is not None \
        or fleet.migration_command == command


def _pin(revision: str, command: str | None, spec: TenantSpec) -> TenantSpec:
    """The tenant on `revision` (and the rollout's command, unless it has its own)."""
    update: dict[str, str] = {"app_revision": revision}
    if command is not None and spec.migration_command is None:
        update["migration_command"] = command
    return spec.model_copy(update=update)


def _unpin_command(command: str | None, edit: Edit, spec: TenantSpec) -> TenantSpec:
    """`edit`, and the rollout's command taken back (the tenant had none before it)."""
    spec = edit(spec)
    if command is not None and spec.migration_command == command:
        spec = spec.model_copy(update={"migration_command": None})
    return spec


def _checkpoint(
    fm: FleetManager, tier: str, wave: Wave, todo: list[str], revision: str,
    command: str | None = None,
) -> dict[str, Checkpoint]:
    """A `pre-<revision>` checkpoint for each tenant of the wave (recorded ones reused:
    idempotent per label), every rule checked before the first write; then the wave's
    snapshot rotation `up` (only when the cap is reached) and its checkpoint `up`."""
    fleet = _fleet_of(fm, tier, wave)
    label = checkpoint_label(revision, command)
    records: dict[str, Checkpoint] = {}
    trims: dict[str, Edit] = {}
    adds: dict[str, Edit] = {}
    for tenant in todo:
        spec = fleet.require(tenant)
        found = next((c for c in spec.checkpoints if c.label == label), None)
        if found is not None:  # a rerun: the `up` below makes a snapshot a kill never made
            records[tenant] = found
            adds[tenant] = _same
            continue
        old = fleet.revision_of(spec)
        record = fm._build(tier, partial(
            Checkpoint, label=label, snapshot=snapshot_name(label), app_revision=old,
            metadata={"rollout": revision, "from": old}, created_at=datetime.now(UTC)))
        records[tenant] = record
        if spec.snapshot(record.snapshot) is not None:
            adds[tenant] = partial(_recorded, record=record)
            continue
        keep, new = fm._snapshot_room(tier, spec, record.snapshot)
        if keep is not None:
            trims[tenant] = partial(_keep_snapshots, keep)
        adds[tenant] = partial(_add_checkpoint, new, record)
    if trims:
        _apply(fm, tier, wave, trims)
    _apply(fm, tier, wave, adds)
    return records


def _same(spec: TenantSpec) -> TenantSpec:
    return spec


def _keep_snapshots(keep: tuple[SnapshotSpec, ...], spec: TenantSpec) -> TenantSpec:
    return spec.model_copy(update={"snapshots": keep})


def _add_checkpoint(new: SnapshotSpec, record: Checkpoint, spec: TenantSpec) -> TenantSpec:
    return _recorded(spec.model_copy(update={"snapshots": (*spec.snapshots, new)}), record)


def _apply(
    fm: FleetManager, tier: str, wave: Wave, edits: Mapping[str, Edit], *,
    continue_on_error: bool = False,
) -> dict[str, str]:
    """`_change` for several tenants of one stack: every edit validated, then one store
    write and one `up` scoped to these tenants, under the shard lock. With
    `continue_on_error`, returns the tenants whose resources failed (tenant -> reason) and
    raises only a failure no tenant can be blamed for."""
    with shard_lock(fm.lock_dir, wave.stack, fm.lock_conninfo):
        fm._emit(StackProgress(wave.stack, "locked"))
        with guard(wave.stack):
            found = {t: fm.store.get(tier, t) for t in edits}
        before = {t: s for t, s in found.items() if s is not None}
        if not before:
            return {}
        after = {t: fm._build(tier, partial(edits[t], s)) for t, s in before.items()}
        for tenant, new in after.items():
            fm._validate(new, tier, before=before[tenant])
        changed = [new for t, new in after.items() if new != before[t]]
        if changed:
            with guard(wave.stack):
                _put_all(fm, tier, changed)
            fm._emit(StackProgress(wave.stack, "fleet_written", f"{len(changed)} tenants"))
        blame = TenantFailures()
        try:
            fm.runner.up(tier, wave.shard, scope=before, on_event=blame,
                         continue_on_error=continue_on_error)
        except FleetError:
            if not (continue_on_error and blame.failed):
                raise
        return dict(blame.failed)


def _put_all(fm: FleetManager, tier: str, specs: list[TenantSpec]) -> None:
    """One store write when the store has a batch form (the fleet file: one rewrite)."""
    put_many = getattr(fm.store, "put_many", None)
    if put_many is not None:
        put_many(tier, specs)
        return
    for spec in specs:
        fm.store.put(tier, spec)


def _roll_back(
    fm: FleetManager, tier: str, wave: Wave, failures: Mapping[str, str],
    records: Mapping[str, Checkpoint], command: str | None = None,
) -> None:
    """Restore each failed tenant's checkpoint and declare its old revision, in one `up`."""
    fleet = _fleet_of(fm, tier, wave)
    token = uuid.uuid4().hex[:12]
    for tenant in failures:
        fm._emit(StackProgress(wave.stack, "imperative",
                               f"migration failed: roll {tenant} back to {records[tenant].label}"))
    _apply(fm, tier, wave, {
        t: partial(_unpin_command, command, partial(restore_edit, fleet, records[t], token))
        for t in failures})
    outputs = fm._outputs(wave.stack)
    where = Placement(tier, fleet.shards, wave.shard, fleet.platform)
    for tenant in failures:
        fm._follow_default_branch(tenant, fm._connection(outputs, where, tenant))


def _finish(fm: FleetManager, tier: str, revision: str, command: str | None = None) -> None:
    """Every tenant is on `revision`: make it the fleet's and drop the per-tenant pins (the
    effective revisions do not change, so no `up` is needed). A store that cannot edit a
    fleet as a whole keeps the per-tenant pins, which say the same."""

    def unpinned(t: TenantSpec) -> TenantSpec:
        if t.app_revision == revision:
            t = t.model_copy(update={"app_revision": None})
        if command is not None and t.migration_command == command:
            t = t.model_copy(update={"migration_command": None})
        return t

    def edit(f: FleetSpec) -> FleetSpec:
        update: dict[str, object] = {"app_revision": revision,
                                     "tenants": tuple(unpinned(t) for t in f.tenants)}
        if command is not None:
            update["migration_command"] = command
        return f.model_copy(update=update)

    try:
        fm._edit_fleet(tier, edit)
    except InvalidRequest:
        fm._emit(StackProgress(tier, "imperative", f"tenants keep their {revision} pins"))
