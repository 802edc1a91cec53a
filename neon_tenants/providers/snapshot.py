"""Snapshot: a named snapshot of a branch, with a rotation policy that respects the tier cap.

The cap counts every snapshot of the project (free 1, paid 10), including ones taken by the
platform outside this stack, so create makes room first: "replace" deletes the existing
one(s), "evict_oldest" deletes the oldest unpinned ones. A finalized restore gives the branch
a new id and leaves an `(old)` branch behind (seed README); the resource reports the new id
as `active_branch_id` and deletes the old branch when it has no children.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal

import pulumi
from pydantic import Field

from neon_tenants.catalog import Limits
from neon_tenants.catalog import validate as v
from neon_tenants.providers._base import (
    STATE_CONFIG,
    NeonProvider,
    NeonResource,
    ProviderError,
    ResourceInputs,
    mark,
)
from neon_tenants.providers._common import default_branch, or_none

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.snapshots import Snapshot as NeonSnapshot
from neon_tenants.providers._time import CanonicalTime, canonical

log = logging.getLogger(__name__)


class SnapshotInputs(ResourceInputs):
    project_id: str = Field(min_length=1, json_schema_extra=mark(replace=True))
    org: str
    # the source branch matters only at create: after a restore its id changes underneath
    branch_id: str = Field(min_length=1, json_schema_extra=mark(nodiff=True))
    name: str = Field(min_length=1, max_length=256)
    timestamp: CanonicalTime = Field(default=None, json_schema_extra=mark(replace=True))
    pinned: bool = False
    restore_trigger: str | None = None
    finalize_restore: bool = True
    policy: Literal["replace", "evict_oldest"] = Field(
        default="replace", json_schema_extra=mark(nodiff=True))
    pinned_names: list[str] = Field(default=[], json_schema_extra=mark(nodiff=True))
    limits: Limits = Field(json_schema_extra=mark(nodiff=True))



class SnapshotState(SnapshotInputs):
    model_config = STATE_CONFIG

    snapshot_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    active_branch_id: str = Field(default="", json_schema_extra=mark(output=True))


class SnapshotProvider(NeonProvider[SnapshotInputs, SnapshotState]):
    inputs_model = SnapshotInputs
    state_model = SnapshotState
    # create adopts an existing object of the same name (crash-safe reruns), so on a replace
    # the old one must be deleted first: otherwise the successor adopts it and the delete of
    # the "old" resource removes the adopted one
    delete_before_replace = True

    def validate(self, i: SnapshotInputs) -> list[v.Failure]:
        out: list[v.Failure] = []
        if i.limits.snapshot_cap < 1:
            out.append(v.Failure("name", f"tier {i.limits.tier} allows no snapshots"))
        if i.timestamp is not None and i.timestamp > canonical(datetime.now(UTC)):  # type: ignore[operator]
            out.append(v.Failure("timestamp", f"{i.timestamp} is in the future; use a time "
                                              "inside the history retention window"))
        return out

    def create_resource(self, client: NeonClient, i: SnapshotInputs) -> tuple[str, SnapshotState]:
        _inside_window(i)
        api = client.org(i.org)
        existing = api.list_snapshots(i.project_id)
        for snap in existing:
            if snap.name == i.name:  # a rerun after a crash: adopt
                return snap.id, SnapshotState(**i.model_dump(), snapshot_id=snap.id,
                                              active_branch_id=i.branch_id)
        self._make_room(api, i, existing)
        snap = _create_or_reconcile(api, i)
        return snap.id, SnapshotState(**i.model_dump(), snapshot_id=snap.id,
                                      active_branch_id=i.branch_id)

    def _make_room(self, api: OrgClient, i: SnapshotInputs, existing: list[NeonSnapshot]) -> None:
        cap = i.limits.snapshot_cap
        excess = len(existing) - cap + 1
        if excess <= 0:
            return
        pinned = set(i.pinned_names)
        victims = [s for s in existing if s.name not in pinned]
        if i.policy == "evict_oldest":
            victims.sort(key=lambda s: s.created_at or "")
        if len(victims) < excess:
            raise ProviderError(
                f"snapshot {i.name!r}: tier {i.limits.tier} allows {cap} snapshot(s) and "
                f"{len(existing) - len(victims)} existing ones are pinned; unpin or delete one"
            )
        for snap in victims[:excess]:
            _delete_snapshot(api, i.project_id, snap.id)

    def update_resource(
        self, client: NeonClient, id_: str, old: SnapshotState, new: SnapshotInputs
    ) -> SnapshotState:
        api = client.org(new.org)
        if new.name != old.name:
            api.rename_snapshot(new.project_id, id_, new.name)
        active = old.active_branch_id or new.branch_id
        if new.restore_trigger != old.restore_trigger and new.restore_trigger is not None:
            active = self._restore(api, id_, new, _restore_target(api, new, active))
        return SnapshotState(**new.model_dump(), snapshot_id=id_, active_branch_id=active)

    def _restore(self, api: OrgClient, id_: str, i: SnapshotInputs, target: str) -> str:
        restored = api.restore_snapshot(i.project_id, id_, target_branch_id=target,
                                        finalize_restore=i.finalize_restore)
        branch = restored.branch
        if not i.finalize_restore or branch.id == target:
            return str(target if not i.finalize_restore else branch.id)
        old = or_none(lambda: api.get_branch(i.project_id, target))
        if old is not None and old.name.endswith("(old)"):
            try:
                api.delete_branch(i.project_id, target)
            except Exception as err:  # noqa: BLE001 - children keep it alive: report, go on
                log.warning("kept %s of project %s: %s", target, i.project_id,
                            type(err).__name__)
        return str(branch.id)

    def read_resource(
        self, client: NeonClient, id_: str, s: SnapshotState
    ) -> SnapshotState | None:
        snaps = client.org(s.org).list_snapshots(s.project_id)
        for snap in snaps:
            if snap.id == id_:
                return s.model_copy(update={"name": snap.name})
        return None

    def delete_resource(self, client: NeonClient, id_: str, s: SnapshotState) -> None:
        or_none(lambda: client.org(s.org).delete_snapshot(s.project_id, id_))


def _create_or_reconcile(api: OrgClient, i: SnapshotInputs) -> NeonSnapshot:
    """A lost reply (AmbiguousOutcome) is settled by looking the name up, not by retrying."""
    from neon_tenants.client.errors import AmbiguousOutcome

    try:
        return api.create_snapshot(i.project_id, i.branch_id, name=i.name,
                                   timestamp=i.timestamp)
    except AmbiguousOutcome:
        for snap in api.list_snapshots(i.project_id):
            if snap.name == i.name:
                return snap
        raise


def _restore_target(api: OrgClient, i: SnapshotInputs, stored: str) -> str:
    """The branch a restore lands on: the one this snapshot last restored, else its source
    branch as the program passes it now. Another snapshot's finalized restore may have
    replaced both (the old id is deleted, or kept as `(old)` when it has children): then the
    project's default branch, which took over the source's role."""
    for candidate in dict.fromkeys((stored, i.branch_id)):
        branch = or_none(partial(api.get_branch, i.project_id, candidate))
        if branch is not None and not branch.name.endswith("(old)"):
            return candidate
    return str(default_branch(api, i.project_id).id)


def _inside_window(i: SnapshotInputs) -> None:
    """Checked at create, not in `check`: a stored timestamp ages out of the window later."""
    if i.timestamp is None:
        return
    oldest = datetime.now(UTC) - timedelta(seconds=i.limits.max_history_retention_seconds)
    if i.timestamp < (canonical(oldest) or ""):
        raise ProviderError(
            f"snapshot {i.name!r}: timestamp {i.timestamp} is older than the "
            f"{i.limits.max_history_retention_seconds} s history window of tier "
            f"{i.limits.tier}; pick a time after {canonical(oldest)} or omit it (now)"
        )


def _delete_snapshot(api: OrgClient, project_id: str, snapshot_id: str) -> None:
    or_none(lambda: api.delete_snapshot(project_id, snapshot_id))


class Snapshot(NeonResource, module="neon", name="Snapshot"):
    """Type token `pulumi-python:dynamic/neon:Snapshot`."""

    provider_class = SnapshotProvider
    snapshot_id: pulumi.Output[str]
    active_branch_id: pulumi.Output[str]
