"""A run killed between writing the fleet file and its `up` (the chaos matrix's find,
`snapshot x kill9`): the rerun of the same call must finish the work, not trust the fleet."""

from __future__ import annotations

from typing import Any

import pytest

from neon_tenants.automation import FleetManager, TenantNotFound
from neon_tenants.fleet import FleetSpec, SnapshotEntry, TenantSpec, save_fleet

from .conftest import Recorder, make_manager, neon_client

pytestmark = [pytest.mark.engine]


def test_snapshot_rerun_after_a_kill_before_up_creates_it(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("killed-snapshot")
    fm: FleetManager = make_manager(root, metadata_emulator, Recorder())
    with fm:
        save_fleet(
            fm.fleet_path("free"),
            FleetSpec(tier="free", shards=1, tenants=(TenantSpec(id="ks-00"),)),
        )
        fm.up("free")
        # what the killed call left: the snapshot declared in the fleet, never applied
        fleet = fm.fleet("free")
        spec = fleet.get("ks-00")
        assert spec is not None
        declared = spec.model_copy(update={"snapshots": (SnapshotEntry(name="s1"),)})
        save_fleet(fm.fleet_path("free"), fleet.with_tenant(declared))

        conn = fm.snapshot("ks-00", "s1")
        with neon_client(metadata_emulator) as client:
            names = [s.name for s in client.org("free").list_snapshots(conn.project_id)]
        assert names == ["s1"]


def test_delete_rerun_after_a_kill_before_up_deletes_the_project(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("killed-delete")
    with make_manager(root, metadata_emulator, Recorder(), archive=False) as fm:
        save_fleet(
            fm.fleet_path("free"),
            FleetSpec(
                tier="free", shards=1, tenants=(TenantSpec(id="kd-00"), TenantSpec(id="kd-01"))
            ),
        )
        fm.up("free")
        pid = fm.show("kd-00").project_id
        # what the killed call left: the tenant out of the fleet, its project still deployed
        save_fleet(fm.fleet_path("free"), fm.fleet("free").without_tenant("kd-00"))

        fm.delete("kd-00")
        with neon_client(metadata_emulator) as client:
            live = {p.id for p in client.org("free").iter_projects()}
        assert pid not in live
        assert sorted(fm.connections("free")) == ["kd-01"]
        with pytest.raises(TenantNotFound):
            fm.delete("kd-00")
