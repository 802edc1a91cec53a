"""Issue 12 in the PostgreSQL fleet store (real PostgreSQL 15): the whole-fleet edit
(fleet-level app revision and migration command) and checkpoints in `nt_checkpoints`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.checkpoint import Checkpoint
from neon_tenants.db.fleet_view import PostgresFleetView
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.sharding import shard_of
from neon_tenants.fleet.spec import FleetSpec
from neon_tenants.tenant.model import SnapshotSpec, TenantSpec

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def rows(migrated_url: str) -> Iterator[PostgresFleetStore]:
    store = PostgresFleetStore(migrated_url, max_size=2)
    yield store
    store.close()


def _cp(label: str, revision: str = "r1", **meta: Any) -> Checkpoint:
    return Checkpoint(label=label, snapshot=f"cp-{label}", app_revision=revision,
                      metadata=meta, created_at=datetime.now(UTC))


def _with_cps(tenant: str, *cps: Checkpoint) -> TenantSpec:
    return TenantSpec(id=tenant, snapshots=tuple(SnapshotSpec(name=c.snapshot) for c in cps),
                      checkpoints=cps)


def _ready(rows: PostgresFleetStore, tier: str) -> None:
    """What a worker's runs do: apply every shard, mark every row ready."""
    shape = rows.fleet_shape(tier)
    assert shape is not None
    for shard in range(shape[0]):
        rows.finish_run(rows.shard_snapshot(tier, shard, mark_applying=True), failed={})


def _sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def test_a_new_fleet_revision_makes_only_unpinned_rows_pending_and_reports_their_shards(
    rows: PostgresFleetStore,
) -> None:
    queued: list[tuple[str, int]] = []
    view = PostgresFleetView(rows, {"free": 3}, on_pending=lambda t, s: queued.append((t, s)))
    ids = [f"ed-{i}" for i in range(6)]
    for tid in ids:
        view.put("free", TenantSpec(id=tid, app_revision="r0" if tid == "ed-0" else None))
    view.edit("free", lambda f: f.model_copy(update={"migration_command": "./migrate"}))
    assert {rows.get("free", t).status for t in ids} == {"pending"}  # a new command for all
    _ready(rows, "free")
    queued.clear()
    before = {t: rows.get("free", t) for t in ids}

    after = view.edit("free", lambda f: f.model_copy(update={"app_revision": "r1"}))
    assert (after.app_revision, after.migration_command) == ("r1", "./migrate")
    assert view.load("free") == after  # stored: settings and tenants
    assert rows.fleet_settings("free") == {"app_revision": "r1", "migration_command": "./migrate"}
    for tid in ids:
        now = rows.get("free", tid)
        if tid == "ed-0":  # pinned: what its run declares did not change
            assert (now.status, now.version) == ("ready", before[tid].version)
        else:
            assert (now.status, now.version) == ("pending", before[tid].version + 1)
    # the shards of the unpinned tenants are reported (their runs must be queued), once each
    assert queued == [("free", s) for s in sorted({shard_of(t, 3) for t in ids[1:]})]
    # a shard run declares the new revision for them, the pin for ed-0
    snap = rows.shard_snapshot("free", shard_of("ed-1", 3), mark_applying=False)
    assert snap.fleet().revision_of(snap.fleet().require("ed-1")) == "r1"

    _ready(rows, "free")
    queued.clear()
    # a rollout's end: every tenant pinned to r2, then the fleet moves and the pins go;
    # what each run declares is the same, so no row is pending and no shard is queued
    for tid in ids:
        view.put("free", view.get("free", tid).model_copy(update={"app_revision": "r2"}))
    _ready(rows, "free")
    versions = {t: rows.get("free", t).version for t in ids}
    view.edit("free", lambda f: f.model_copy(update={
        "app_revision": "r2",
        "tenants": tuple(t.model_copy(update={"app_revision": None}) for t in f.tenants),
    }))
    assert queued == []
    assert all(rows.get("free", t).spec.app_revision is None for t in ids)  # no pins left
    assert {t: (rows.get("free", t).status, rows.get("free", t).version) for t in ids} == {
        t: ("ready", versions[t]) for t in ids}
    assert view.edit("free", lambda f: f) == view.load("free")  # no change, no write

    with pytest.raises(ValueError, match="reshard"):
        view.edit("free", lambda f: f.model_copy(update={"shards": 5}))
    assert rows.fleet_shape("free") == (3, "nt")


def test_a_fleet_edit_adds_and_removes_tenants_in_one_transaction(
    rows: PostgresFleetStore,
) -> None:
    view = PostgresFleetView(rows, {"pro": 1})
    view.put("pro", TenantSpec(id="ad-old"))
    _ready(rows, "pro")
    view.edit("pro", lambda f: f.without_tenant("ad-old").with_tenant(TenantSpec(id="ad-new")))
    assert [t.id for t in view.load("pro").tenants] == ["ad-new"]
    gone = rows.get("pro", "ad-old")
    assert (gone.present, gone.status) == (False, "pending")  # the next run deletes it

    def bad(f: FleetSpec) -> FleetSpec:
        raise RuntimeError("edit failed half-way")

    with pytest.raises(RuntimeError):
        view.edit("pro", bad)
    assert [t.id for t in view.load("pro").tenants] == ["ad-new"]


def test_checkpoints_live_in_their_table_and_come_back_with_the_spec(
    rows: PostgresFleetStore, migrated_url: str
) -> None:
    view = PostgresFleetView(rows, {"free": 3})
    a, b = _cp("a", run="r-1", step=3), _cp("b", "r2")
    spec = _with_cps("cp-t1", a, b)
    view.put("free", spec)
    assert view.get("free", "cp-t1") == spec
    assert rows.checkpoints("cp-t1") == [a, b]
    # not in the row's jsonb: in nt_checkpoints, with tier, label, snapshot, revision, metadata
    [(jsonb,)] = _sql(migrated_url, "SELECT spec FROM nt_tenants WHERE tenant_id = 'cp-t1'")
    assert "checkpoints" not in jsonb
    assert _sql(migrated_url, "SELECT tier, label, snapshot, app_revision, metadata"
                " FROM nt_checkpoints WHERE tenant_id = 'cp-t1' ORDER BY id") == [
        ("free", "a", "cp-a", "r1", {"run": "r-1", "step": 3}),
        ("free", "b", "cp-b", "r2", {})]
    # what a worker's run builds its program (and the stack output) from
    snap = rows.shard_snapshot("free", shard_of("cp-t1", 3), mark_applying=False)
    assert snap.fleet().require("cp-t1").checkpoints == (a, b)
    assert view.load("free").require("cp-t1") == spec
    assert view.locate("cp-t1")[0][1] == spec

    # the rotation drops `a`, `b` is recorded again: history keeps both old records
    b2 = _cp("b", "r3")
    view.put("free", _with_cps("cp-t1", b2))
    assert rows.checkpoints("cp-t1") == [b2]
    history = rows.checkpoint_history("cp-t1")
    assert [(h.checkpoint.label, h.retired_why) for h in history] == [
        ("a", "dropped"), ("b", "replaced"), ("b", None)]

    # deleted: the records stay (retired), queryable after the tenant is gone
    view.delete("free", "cp-t1")
    assert rows.checkpoints("cp-t1") == [] and view.get("free", "cp-t1") is None
    assert [h.retired_why for h in rows.checkpoint_history("cp-t1")] == [
        "dropped", "replaced", "deleted"]
    # put back (a delete whose archive failed): the record is revived, not duplicated
    view.put("free", _with_cps("cp-t1", b2))
    assert rows.checkpoints("cp-t1") == [b2]
    assert len(rows.checkpoint_history("cp-t1")) == 3


def test_an_applied_removal_retires_the_checkpoints_and_a_move_keeps_them(
    rows: PostgresFleetStore,
) -> None:
    cp = _cp("keep")
    rows.ensure_fleet("pro", 1)
    rows.request("free", _with_cps("cp-mv", cp))
    rows.request("pro", _with_cps("cp-mv", cp))  # a tier move: both tiers list it
    rows.forget("free", "cp-mv")  # the move finished: still a tenant
    assert rows.checkpoints("cp-mv") == [cp]
    rows.remove("pro", "cp-mv")  # a queued delete
    assert rows.checkpoints("cp-mv") == [cp]  # not applied yet
    _ready(rows, "pro")  # the worker's run deleted the project, then the row
    assert rows.get("pro", "cp-mv") is None and rows.checkpoints("cp-mv") == []
    assert [h.retired_why for h in rows.checkpoint_history("cp-mv")] == ["deleted"]


def test_migration_8_moves_checkpoints_out_of_existing_specs(
    fresh_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neon_tenants.db import schema

    url = fresh_db()
    monkeypatch.setattr(schema, "MIGRATIONS", tuple(m for m in schema.MIGRATIONS
                                                    if m.version < 8))
    schema.migrate(url)
    cp = _cp("old", revision="r9", who="ci")
    raw = _with_cps("pre-8", cp).model_dump(mode="json", exclude_defaults=True)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO nt_fleets (tier, shards) VALUES ('free', 1)")
        for tier in ("free",):
            conn.execute("INSERT INTO nt_tenants (tier, tenant_id, shard, spec)"
                         " VALUES (%s, 'pre-8', 0, %s)", (tier, psycopg.types.json.Jsonb(raw)))
    monkeypatch.undo()
    assert [m.version for m in schema.migrate(url)] == [8]
    store = PostgresFleetStore(url, max_size=1)
    try:
        assert store.checkpoints("pre-8") == [cp]
        assert store.get("free", "pre-8").spec == _with_cps("pre-8", cp)
    finally:
        store.close()
    [(jsonb,)] = _sql(url, "SELECT spec FROM nt_tenants WHERE tenant_id = 'pre-8'")
    assert "checkpoints" not in jsonb


def test_cli_lists_the_checkpoint_history_of_a_deleted_tenant(
    rows: PostgresFleetStore, migrated_url: str, pg_server: Any, tmp_path: Path
) -> None:
    view = PostgresFleetView(rows, {"free": 3})
    cp = _cp("audit-me", "r4", by="ci")
    view.put("free", _with_cps("cp-cli", cp))
    view.delete("free", "cp-cli")
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "NEON_TENANTS_STACKS_DIR": str(tmp_path / "stacks"),
           "PULUMI_CONFIG_PASSPHRASE": "history-test"}
    pg_env = {**env, "NEON_TENANTS_DATABASE_URL": migrated_url}

    def cli(*args: str, env: dict[str, str] = pg_env) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "tenant", "checkpoints", "cp-cli", *args, "--json"],
                              env=env, capture_output=True, text=True, timeout=120)

    shown = cli("--history")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    [record] = json.loads(shown.stdout)["checkpoints"]
    assert (record["tier"], record["retired_why"]) == ("free", "deleted")
    assert record["checkpoint"]["label"] == "audit-me"
    assert record["checkpoint"]["metadata"] == {"by": "ci"}
    assert pg_server.password not in shown.stdout + shown.stderr
    files = cli("--history", env=env)  # fleet files keep no history: says so
    assert files.returncode != 0 and "PostgreSQL" in files.stdout + files.stderr


def test_import_and_export_carry_checkpoints_through_their_table(
    rows: PostgresFleetStore,
) -> None:
    cp = _cp("from-file", "r5", source="yaml")
    fleet = FleetSpec(tier="imp", shards=1, app_revision="r5",
                      tenants=(_with_cps("imp-a", cp), TenantSpec(id="imp-b")))
    assert rows.import_fleet(fleet) == 2
    assert rows.checkpoints("imp-a") == [cp]
    assert rows.load_fleet("imp") == fleet  # export: the same fleet file back
    assert rows.import_fleet(fleet) == 0  # unchanged, checkpoints included: nothing to apply
    assert len(rows.checkpoint_history("imp-a")) == 1


def test_an_in_process_up_built_before_a_fleet_edit_leaves_the_rows_pending(
    rows: PostgresFleetStore,
) -> None:
    view = PostgresFleetView(rows, {"race": 1})
    view.put("race", TenantSpec(id="race-a"))
    applied_from = view.load("race")  # what an in-process `up` is built from
    view.edit("race", lambda f: f.model_copy(update={"app_revision": "r9"}))  # meanwhile
    view.applied("race", list(applied_from.tenants), applied_from)
    assert rows.get("race", "race-a").status == "pending"  # r9 is still to be applied
    now = view.load("race")
    view.applied("race", list(now.tenants), now)
    assert rows.get("race", "race-a").status == "ready"
