"""Both fleet stores behind FleetManager's `FleetStore` protocol behave the same: fleet files
and PostgreSQL rows (real PostgreSQL 15)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neon_tenants.automation._store import FileFleetStore, FleetStore
from neon_tenants.fleet.sharding import shard_of
from neon_tenants.tenant.model import TenantSpec

SHARDS = {"free": 3, "pro": 1}


@pytest.fixture(params=["files", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FleetStore]:
    if request.param == "files":
        yield FileFleetStore(tmp_path / "stacks", tmp_path / "locks", SHARDS)
        return
    from neon_tenants.db.fleet_view import PostgresFleetView
    from neon_tenants.db.schema import migrate
    from neon_tenants.db.store import PostgresFleetStore

    url = request.getfixturevalue("fresh_db")()
    migrate(url)
    rows = PostgresFleetStore(url, max_size=1)
    try:
        yield PostgresFleetView(rows, SHARDS)
    finally:
        rows.close()


def test_store_protocol_put_get_load_locate_delete(store: FleetStore) -> None:
    assert isinstance(store, FleetStore)
    ids = [f"c{i}" for i in range(9)]
    for tid in ids:
        store.put("free", TenantSpec(id=tid))
    store.put("pro", TenantSpec(id="c0", protected=True))  # a move in progress: two tiers
    assert store.tiers() == ["free", "pro"]
    assert store.get("free", "c1") == TenantSpec(id="c1") and store.get("free", "zz") is None
    whole = store.load("free")
    assert (whole.shards, sorted(t.id for t in whole.tenants)) == (3, ids)
    for shard in range(3):
        part = store.load("free", shard)
        assert sorted(t.id for t in part.tenants) == [t for t in ids if shard_of(t, 3) == shard]
    place = store.placement("free", "c4")
    assert (place.shard, place.stack) == (shard_of("c4", 3), f"free-{shard_of('c4', 3):02d}")
    assert store.placement("pro", "c0").stack == "pro"
    assert [(p.tier, s.protected) for p, s in store.locate("c0")] == [("free", False),
                                                                      ("pro", True)]
    store.put("free", TenantSpec(id="c1", protected=True))
    assert store.get("free", "c1").protected
    store.delete("free", "c0")
    assert [p.tier for p, _ in store.locate("c0")] == ["pro"]
    assert "c0" not in {t.id for t in store.load("free").tenants}
    store.delete("free", "never-there")  # no error, no write


def test_store_whole_fleet_edit_and_checkpoints_read_back_the_same(store: FleetStore) -> None:
    """Issue 12: the fleet-level revision edit and compound checkpoints, in both stores."""
    from datetime import UTC, datetime

    from neon_tenants.checkpoint import Checkpoint
    from neon_tenants.tenant.model import SnapshotSpec

    cp = Checkpoint(label="pre-r2", snapshot="cp-pre-r2", app_revision="r1",
                    metadata={"rollout": "r2"}, created_at=datetime.now(UTC))
    spec = TenantSpec(id="e1", app_revision="r2", snapshots=(SnapshotSpec(name="cp-pre-r2"),),
                      checkpoints=(cp,))
    store.put("free", spec)
    store.put("free", TenantSpec(id="e2"))
    assert store.get("free", "e1") == spec
    after = store.edit("free", lambda f: f.model_copy(update={
        "app_revision": "r2", "migration_command": "./migrate",
        "tenants": tuple(t.model_copy(update={"app_revision": None}) for t in f.tenants),
    }))
    assert store.load("free") == after
    assert (after.app_revision, after.migration_command) == ("r2", "./migrate")
    assert [t.app_revision for t in after.tenants] == [None, None]  # no pins left
    assert store.get("free", "e1") == spec.model_copy(update={"app_revision": None})


def test_store_batch_put_and_delete(store: FleetStore) -> None:
    specs = [TenantSpec(id=f"b{i}") for i in range(4)]
    store.put_many("free", specs)
    assert [t.id for t in store.load("free").tenants] == ["b0", "b1", "b2", "b3"]
    store.put_many("free", [TenantSpec(id="b1", protected=True)])
    store.delete_many("free", ["b0", "b2"])
    assert [(t.id, t.protected) for t in store.load("free").tenants] == [("b1", True),
                                                                         ("b3", False)]
