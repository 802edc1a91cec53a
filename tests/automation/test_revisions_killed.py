"""A checkpoint or a rollout killed between its fleet write and its `up`: the rerun of the same
call converges (issue 12; the same crash point as the chaos matrix's `snapshot x kill9`).

The metadata emulator is enough here: the migration's side effect is a line in a log file per
run (tenant, revision), so "exactly once" is counted without a database.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import StackProgress
from neon_tenants.automation._rollout import rollout_waves
from neon_tenants.checkpoint import Checkpoint
from neon_tenants.fleet import FleetSpec, SnapshotEntry, TenantSpec, save_fleet

from .conftest import Recorder, make_manager, neon_client

pytestmark = [pytest.mark.engine]


def _logged_migration(root: Path) -> tuple[Path, str]:
    """A migration whose side effect is a line `<tenant> <revision>` per run in a log file."""
    log = Path(root) / "migrations.log"
    return log, f'echo "$NEON_TENANTS_TENANT $NEON_TENANTS_APP_REVISION" >> {log}'


def test_checkpoint_rerun_after_a_kill_before_up_takes_the_snapshot(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("killed-checkpoint")
    with make_manager(root, metadata_emulator, Recorder(), archive=False) as fm:
        save_fleet(fm.fleet_path("pro"), FleetSpec(tier="pro", tenants=(TenantSpec(id="kc-0"),)))
        fm.up("pro")
        # what the killed call left: snapshot and record in the fleet, never applied
        record = Checkpoint(
            label="c1", snapshot="cp-c1", app_revision="v1", created_at=datetime.now(UTC)
        )
        fleet = fm.fleet("pro")
        spec = fleet.require("kc-0").model_copy(
            update={"snapshots": (SnapshotEntry(name="cp-c1"),), "checkpoints": (record,)}
        )
        save_fleet(fm.fleet_path("pro"), fleet.with_tenant(spec))

        assert fm.checkpoint("kc-0", "c1", app_revision="v1") == record
        conn = fm.show("kc-0")
        with neon_client(metadata_emulator) as client:
            names = [s.name for s in client.org("paid").list_snapshots(conn.project_id)]
        assert names == ["cp-c1"]
        [out] = fm._outputs(conn.stack)["kc-0"]["checkpoints"]
        assert out["label"] == "c1"


def test_rollout_rerun_after_a_kill_before_up_migrates_each_tenant_once(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("killed-rollout")
    log, command = _logged_migration(root)
    with make_manager(root, metadata_emulator, Recorder(), archive=False) as fm_:
        tenants = (TenantSpec(id="kr-0"), TenantSpec(id="kr-1"))
        save_fleet(
            fm_.fleet_path("pro"),
            FleetSpec(tier="pro", tenants=tenants, app_revision="r1", migration_command=command),
        )
        fm_.up("pro")
        # what a rollout killed after pinning kr-0 (its checkpoint taken) left behind
        fm_.checkpoint("kr-0", "pre-r2", app_revision="r1")
        fleet = fm_.fleet("pro")
        save_fleet(
            fm_.fleet_path("pro"),
            fleet.with_tenant(fleet.require("kr-0").model_copy(update={"app_revision": "r2"})),
        )

        result = fm_.rollout("pro", "r2", canary=1)
        assert result.ok and result.migrated == ["kr-0", "kr-1"]
        assert fm_.rollout("pro", "r2").migrated == ["kr-0", "kr-1"]  # and again: nothing runs
        runs = Counter(log.read_text().splitlines())
        assert runs == {"kr-0 r1": 1, "kr-1 r1": 1, "kr-0 r2": 1, "kr-1 r2": 1}
        assert fm_.fleet("pro").app_revision == "r2"


def test_rollout_of_a_two_shard_tier_runs_two_engine_ups_per_wave_one_stack_each(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("sharded-rollout")
    log, command = _logged_migration(root)
    recorder = Recorder()
    with make_manager(root, metadata_emulator, recorder, archive=False) as fm:
        ids = ["ks-0", "ks-1", "ks-2", "ks-5", "ks-7"]  # shards 1, 1, 1, 0, 0
        save_fleet(fm.fleet_path("pro"), FleetSpec(
            tier="pro", shards=2, tenants=tuple(TenantSpec(id=t) for t in ids),
            app_revision="r1", migration_command=command))
        fm.up("pro")
        waves = rollout_waves(fm.fleet("pro"), canary=1, batch=2)
        assert [(w.stack, w.tenants) for w in waves] == [
            ("pro-01", ("ks-0",)), ("pro-00", ("ks-5", "ks-7")), ("pro-01", ("ks-1", "ks-2"))]
        start = len(recorder.events)
        result = fm.rollout("pro", "r2", canary=1, batch=2)
        assert result.ok and sorted(result.migrated) == ids and result.waves == len(waves)
        ups = [e.stack for e in recorder.events[start:]
               if isinstance(e, StackProgress) and e.phase == "engine_started"
               and e.message == "up"]
        # per wave: one checkpoint `up` and one migrate `up` of the wave's own stack
        assert ups == [w.stack for w in waves for _ in range(2)]
        assert Counter(log.read_text().splitlines()) == {f"{t} {r}": 1 for t in ids
                                                          for r in ("r1", "r2")}
        assert fm.fleet("pro").app_revision == "r2"
