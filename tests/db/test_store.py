"""The PostgreSQL fleet store on a real PostgreSQL 15: rows, versions, shard reads, import,
export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.sharding import shard_of
from neon_tenants.fleet.spec import FleetSpec, TenantSpec, load_fleet, save_fleet


@pytest.fixture
def store(fresh_db) -> PostgresFleetStore:
    from neon_tenants.db.schema import migrate

    url = fresh_db()
    migrate(url)
    s = PostgresFleetStore(url)
    s.ensure_fleet("free", 3)
    yield s
    s.close()


def test_request_is_pending_then_a_run_marks_exactly_its_versions_ready(store) -> None:
    rec = store.request("free", TenantSpec(id="acme"))
    assert (rec.status, rec.version, rec.shard) == ("pending", 1, shard_of("acme", 3))
    snap = store.shard_snapshot("free", rec.shard, mark_applying=True)
    assert [t.id for t in snap.tenants] == ["acme"]
    assert store.get("free", "acme").status == "applying"
    # a change committed while the run is going stays pending for the next run
    store.request("free", TenantSpec(id="acme", protected=True))
    store.finish_run(snap, failed={})
    after = store.get("free", "acme")
    assert (after.status, after.version, after.applied_version) == ("pending", 2, 0)
    snap2 = store.shard_snapshot("free", rec.shard, mark_applying=True)
    store.finish_run(snap2, failed={})
    done = store.get("free", "acme")
    assert (done.status, done.applied_version, done.spec.protected) == ("ready", 2, True)


def test_repeating_an_identical_request_queues_nothing_new(store) -> None:
    store.request("free", TenantSpec(id="same"))
    snap = store.shard_snapshot("free", shard_of("same", 3), mark_applying=True)
    store.finish_run(snap, failed={})
    again = store.request("free", TenantSpec(id="same"))
    assert (again.status, again.version) == ("ready", 1)


def test_failed_tenant_records_its_error_and_the_shard_others_end_ready(store) -> None:
    ids = [f"t{i}" for i in range(12)]
    for tid in ids:
        store.request("free", TenantSpec(id=tid))
    shard = shard_of("t0", 3)
    mates = [t for t in ids if shard_of(t, 3) == shard]
    snap = store.shard_snapshot("free", shard, mark_applying=True)
    assert sorted(t.id for t in snap.tenants) == sorted(mates)
    store.finish_run(snap, failed={"t0": "boom"})
    assert store.get("free", "t0").status == "failed" and store.get("free", "t0").error == "boom"
    assert all(store.get("free", t).status == "ready" for t in mates if t != "t0")
    others = [t for t in ids if t not in mates]
    assert all(store.get("free", t).status == "pending" for t in others)


def test_a_default_request_keeps_a_present_tenants_spec_and_retries_a_failed_one(
    store,
) -> None:
    from neon_tenants.tenant import SnapshotSpec

    own = TenantSpec(id="kept", protected=True, snapshots=(SnapshotSpec(name="s1"),))
    shard = store.request("free", own).shard
    store.finish_run(store.shard_snapshot("free", shard, mark_applying=True),
                     failed={"kept": "boom"})
    # a run failed it: retried as it stands (its own spec, pending again)
    retried = store.request_default("free", TenantSpec(id="kept"))
    assert (retried.status, retried.version, retried.spec, retried.error) == (
        "pending", 2, own, None)
    store.finish_run(store.shard_snapshot("free", shard, mark_applying=True), failed={})
    # present and ready: nothing written (version, status and its own spec unchanged)
    again = store.request_default("free", TenantSpec(id="kept"))
    assert (again.status, again.version, again.spec) == ("ready", 2, own)
    # removed: a new sign-up under that id gets the default spec
    store.remove("free", "kept")
    fresh = store.request_default("free", TenantSpec(id="kept"))
    assert fresh.present and fresh.spec == TenantSpec(id="kept")


def test_removal_leaves_the_program_then_the_row_goes(store) -> None:
    store.request("free", TenantSpec(id="gone"))
    shard = shard_of("gone", 3)
    store.finish_run(store.shard_snapshot("free", shard, mark_applying=True), failed={})
    store.remove("free", "gone")
    snap = store.shard_snapshot("free", shard, mark_applying=True)
    assert "gone" not in [t.id for t in snap.tenants] and "gone" in snap.versions
    store.finish_run(snap, failed={})
    assert store.get("free", "gone") is None


def test_import_then_export_round_trips_a_fleet_file(store, tmp_path: Path) -> None:
    fleet = FleetSpec(
        tier="pro",
        shards=2,
        app_revision="r42",
        migration_command="./migrate --to r42",
        tenants=(TenantSpec(id="a1", quota_overrides={"active_time_seconds": 10}),
                 TenantSpec(id="b2", protected=True)),
    )
    assert store.import_fleet(fleet) == 2
    assert store.import_fleet(fleet) == 0  # unchanged: nothing to apply
    assert store.get("pro", "a1").status == "ready"
    assert store.load_fleet("pro") == fleet
    snap = store.shard_snapshot("pro", shard_of("b2", 2), mark_applying=False)
    assert snap.fleet().app_revision == "r42"  # what a worker's run builds its program from


def test_cli_fleet_import_export_moves_a_tier_between_file_and_postgres(
    fresh_db, tmp_path: Path, pg_server
) -> None:
    from neon_tenants.db.schema import migrate

    url = fresh_db()
    migrate(url)
    src = tmp_path / "in" / "fleets" / "free.yaml"
    tenants = tuple(TenantSpec(id=f"x{i}") for i in range(5))
    fleet = FleetSpec(tier="free", shards=3, tenants=tenants)
    save_fleet(src, fleet)
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {"NEON_TENANTS_DATABASE_URL": url, "PATH": "/usr/bin:/bin",
           "NEON_TENANTS_STACKS_DIR": str(tmp_path / "stacks")}  # import/export write its config
    dst = tmp_path / "out.yaml"
    runs = [
        subprocess.run([exe, "fleet", "import", "--tier", "free", "--file", str(src), "--json"],
                       env=env, capture_output=True, text=True, timeout=120),
        subprocess.run([exe, "fleet", "export", "--tier", "free", "--file", str(dst), "--json"],
                       env=env, capture_output=True, text=True, timeout=120),
    ]
    for done in runs:
        assert done.returncode == 0, done.stdout + done.stderr
        assert pg_server.password not in done.stdout + done.stderr
    assert load_fleet(dst, tier="free") == fleet
    config = (tmp_path / "stacks" / "Pulumi.free.yaml").read_text()
    assert "neon-tenants:fleetStore: files" in config  # export moved the tier back to files
    missing = subprocess.run([exe, "fleet", "export", "--tier", "pro", "--file", str(dst)],
                             env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no fleet" in missing.stderr
