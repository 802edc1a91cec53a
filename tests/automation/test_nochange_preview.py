"""The no-change preview (issue #16): decided from the state with the providers' own check
and diff, it may only ever skip the engine when the engine would report no change. Through
the real engine and the metadata emulator: an unchanged shard is answered without an engine
run and without an API call, and every kind of fleet edit makes it hand over to the engine,
which then reports the change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neon_tenants.automation import FleetManager, StackProgress
from neon_tenants.automation._nochange import state_of, unchanged
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet
from neon_tenants.fleet.program import shard_args
from neon_tenants.fleet.spec import DevBranchEntry, SnapshotEntry

from .conftest import Recorder, make_manager

pytestmark = [pytest.mark.engine]
TIER = "free"


@pytest.fixture(scope="module")
def setup(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FleetManager, Recorder, Any]]:
    recorder = Recorder()
    root = tmp_path_factory.mktemp("nochange")
    with make_manager(root, metadata_emulator, recorder, archive=False) as fm:
        seed = (
            TenantSpec(id="plain"),
            TenantSpec(id="rich", quota_overrides={"logical_size_bytes": 1024},
                       dev_branches=(DevBranchEntry(name="dev"),),
                       snapshots=(SnapshotEntry(name="v1"),)),
        )
        save_fleet(fm.fleet_path(TIER), FleetSpec(tier=TIER, tenants=seed))
        fm.up(TIER)
        yield fm, recorder, metadata_emulator


def _calls(emu: Any) -> int:
    return sum(n for route, n in emu.admin("GET", "state")["requests"].items()
               if "_emulator" not in route)


def _decided(fm: FleetManager) -> bool:
    fleet = fm.fleet(TIER)
    members = [a for _, a in shard_args(TIER, None, fleet, fm.catalog, fm.archive)]
    deployment = state_of(fm.engine, TIER)
    assert deployment is not None
    return unchanged(deployment, TIER, fm.engine.project, members)


def test_unchanged_shard_needs_no_engine_run_and_no_api_call(setup: Any) -> None:
    fm, recorder, emu = setup
    assert _decided(fm) is True
    recorder.events.clear()
    before = _calls(emu)
    assert fm.preview([TIER]).exit_code == 0
    assert _calls(emu) == before
    done = [e.message for e in recorder.events
            if isinstance(e, StackProgress) and e.phase == "engine_done"]
    assert done == ["preview: no change (state)"]


def _edit(fn: Callable[[TenantSpec], TenantSpec | None]) -> Callable[[FleetSpec], FleetSpec]:
    def apply(fleet: FleetSpec) -> FleetSpec:
        rich = fleet.get("rich")
        assert rich is not None
        new = fn(rich)
        return fleet.without_tenant("rich") if new is None else fleet.with_tenant(new)
    return apply


EDITS: dict[str, Callable[[FleetSpec], FleetSpec]] = {
    "quota": _edit(lambda t: t.model_copy(update={"quota_overrides": {}})),
    "compute": _edit(lambda t: t.model_copy(update={"compute_overrides": {"max_cu": 1}})),
    "protected": _edit(lambda t: t.model_copy(update={"protected": True})),
    "branch_added": _edit(lambda t: t.model_copy(update={
        "dev_branches": (*t.dev_branches, DevBranchEntry(name="feat"))})),
    "branch_removed": _edit(lambda t: t.model_copy(update={"dev_branches": ()})),
    "branch_reset": _edit(lambda t: t.model_copy(update={
        "dev_branches": (DevBranchEntry(name="dev", reset_trigger="r1"),)})),
    "snapshot_pinned": _edit(lambda t: t.model_copy(update={
        "snapshots": (SnapshotEntry(name="v1", pinned=True),)})),
    "tenant_removed": _edit(lambda t: None),
    "tenant_added": lambda f: f.with_tenant(TenantSpec(id="brand-new")),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_every_edit_hands_over_to_the_engine(setup: Any, edit: str) -> None:
    fm, _, _ = setup
    path = fm.fleet_path(TIER)
    original = path.read_bytes()
    try:
        save_fleet(path, EDITS[edit](fm.fleet(TIER)))
        assert _decided(fm) is False
        diff = fm.preview([TIER])
        assert diff.exit_code != 0, edit  # the engine saw the change the shortcut skipped
    finally:
        path.write_bytes(original)
    assert _decided(fm) is True
