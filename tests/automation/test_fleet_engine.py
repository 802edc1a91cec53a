"""FleetManager through the real Pulumi engine and the metadata emulator (no Postgres).

One fleet of 20 tenants over two tiers and five shard stacks is built once per module;
the tests then provision, move and preview against it, in file order.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import (
    FleetManager,
    InvalidRequest,
    LimitsExceeded,
    ResourceStep,
    TenantConflict,
)
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet, shard_of

from .conftest import Recorder, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.slow]

FREE = [f"f-{i:02d}" for i in range(14)]
PRO = [f"p-{i:02d}" for i in range(6)]


@pytest.fixture(scope="module")
def fleet(meta_fleet: FleetManager) -> FleetManager:
    save_fleet(
        meta_fleet.fleet_path("free"),
        FleetSpec(tier="free", shards=3, tenants=tuple(TenantSpec(id=t) for t in FREE)),
    )
    save_fleet(
        meta_fleet.fleet_path("pro"),
        FleetSpec(tier="pro", shards=2, tenants=tuple(TenantSpec(id=t) for t in PRO)),
    )
    assert meta_fleet.up("free") == ["free-00", "free-01", "free-02"]
    assert meta_fleet.up("pro") == ["pro-00", "pro-01"]
    return meta_fleet


@pytest.fixture(scope="module")
def client(metadata_emulator: Any) -> Any:
    with neon_client(metadata_emulator) as c:
        yield c


def _updates(fm: FleetManager, stack: str) -> int:
    """Completed updates of a stack, counted in the file backend's history."""
    assert fm.backend_url is not None
    root = Path(fm.backend_url.removeprefix("file://"))
    return len(list((root / ".pulumi" / "history" / "neon-tenants" / stack).glob("*.history.json")))


def test_fleet_of_20_tenants_lands_in_the_right_orgs(fleet: FleetManager, client: Any) -> None:
    free_org, paid_org = client.org("free").org_id, client.org("paid").org_id
    conns = {**fleet.connections("free"), **fleet.connections("pro")}
    assert sorted(conns) == sorted(FREE + PRO)
    assert fleet.show("p-04") == conns["p-04"]
    for tenant in FREE + PRO:
        conn = conns[tenant]
        assert conn.project_id
        assert conn.org_id == (free_org if tenant in FREE else paid_org)
        assert conn.connection_uri.get_secret_value().startswith("postgres")
        expected = f"{conn.tier}-{shard_of(tenant, 3 if tenant in FREE else 2):02d}"
        assert conn.stack == expected
    names = {p.name for p in client.org("free").iter_projects()}
    assert {f"nt-{t}" for t in FREE} <= names


def test_provision_changes_only_its_shard_and_is_idempotent(
    fleet: FleetManager, recorder: Recorder
) -> None:
    stacks = ["free-00", "free-01", "free-02", "pro-00", "pro-01"]
    before = {s: _updates(fleet, s) for s in stacks}
    recorder.events.clear()
    conn = fleet.provision("newcomer", "free")
    home = f"free-{shard_of('newcomer', 3):02d}"
    after = {s: _updates(fleet, s) for s in stacks}
    assert {s for s in stacks if after[s] != before[s]} == {home}
    assert conn.stack == home and conn.project_id
    steps = [e for e in recorder.events if isinstance(e, ResourceStep)]
    assert steps and {e.stack for e in steps} == {home}
    assert any(e.tenant == "newcomer" and e.op == "create" for e in steps)
    again = fleet.provision("newcomer", "free")
    assert again.project_id == conn.project_id
    assert _updates(fleet, home) == after[home]  # nothing to do: no engine run


def test_provision_into_another_tier_is_a_conflict(fleet: FleetManager) -> None:
    with pytest.raises(TenantConflict) as info:
        fleet.provision("f-01", "pro")
    assert info.value.http_status == 409


def test_unknown_tier_and_bad_id_are_invalid_requests(fleet: FleetManager) -> None:
    with pytest.raises(InvalidRequest):
        fleet.provision("whoever", "platinum")
    with pytest.raises(InvalidRequest):
        fleet.provision("Bad_Id", "free")


def test_upgrade_keeps_project_and_changes_org_and_quota(fleet: FleetManager, client: Any) -> None:
    before = fleet.show("f-03")
    after = fleet.upgrade("f-03", "pro")
    assert after.project_id == before.project_id
    assert after.tier == "pro" and after.stack == f"pro-{shard_of('f-03', 2):02d}"
    assert after.org_id == client.org("paid").org_id
    project = client.org("paid").get_project(before.project_id)
    settings = project.settings
    quota = settings["quota"] if isinstance(settings, dict) else settings.quota.model_dump()
    pro = fleet.catalog.tiers["pro"].quota
    assert quota["active_time_seconds"] == pro.active_time_seconds
    assert quota["logical_size_bytes"] == pro.logical_size_bytes
    assert fleet.fleet("free").get("f-03") is None
    assert fleet.fleet("pro").require("f-03").adopt_project_id == before.project_id
    src = fleet.engine.select(before.stack).export_stack().deployment["resources"]
    assert not [r for r in src if "::f-03" in r["urn"]]
    # the source stack now converges without touching the moved project
    fleet.up("free", shard_of("f-03", 3))
    assert before.project_id in {p.id for p in client.org("paid").iter_projects()}


def test_an_interrupted_upgrade_is_finished_by_running_it_again(
    fleet: FleetManager, client: Any
) -> None:
    # the state a crash between "up the target" and "forget in the source" leaves behind
    conn = fleet.show("f-09")
    free_org, paid_org = client.org("free").org_id, client.org("paid").org_id
    client.personal.transfer_projects(free_org, paid_org, [conn.project_id])
    moved = (
        fleet.fleet("free").require("f-09").model_copy(update={"adopt_project_id": conn.project_id})
    )
    save_fleet(fleet.fleet_path("pro"), fleet.fleet("pro").with_tenant(moved))
    fleet.up("pro", shard_of("f-09", 2))
    assert len(fleet.locate_all("f-09")) == 2

    done = fleet.upgrade("f-09", "pro")
    assert done.project_id == conn.project_id and done.org_id == paid_org
    assert [f.tier for f, _ in fleet.locate_all("f-09")] == ["pro"]
    src = fleet.engine.workspace.export_stack(conn.stack).deployment["resources"]
    assert not [r for r in src if "::f-09" in r["urn"]]


def test_downgrade_refused_with_numbers_before_any_change(fleet: FleetManager, client: Any) -> None:
    conn = fleet.show("p-02")
    org = client.org("paid")
    for name in ("s1", "s2"):
        org.create_snapshot(conn.project_id, conn.branch_id, name=name)
    fleet_before = fleet.fleet("pro")
    with pytest.raises(LimitsExceeded) as info:
        fleet.downgrade("p-02", "free")
    err = info.value
    assert err.http_status == 409
    assert {"name": "snapshots", "actual": 2, "limit": 1} in err.details["violations"]
    assert "snapshots 2 > 1" in str(err)
    assert org.get_project(conn.project_id).org_id == org.org_id
    assert fleet.fleet("pro") == fleet_before


def test_downgrade_that_fits_moves_back_with_the_same_project(
    fleet: FleetManager, client: Any
) -> None:
    before = fleet.show("f-03")
    assert before.tier == "pro"
    after = fleet.downgrade("f-03", "free")
    assert after.project_id == before.project_id and after.tier == "free"
    assert after.org_id == client.org("free").org_id
    project = client.org("free").get_project(before.project_id)
    assert (
        project.history_retention_seconds == fleet.catalog.tiers["free"].history_retention_seconds
    )
    assert fleet.fleet("pro").get("f-03") is None


def test_concurrent_provisions_on_one_shard_all_land(fleet: FleetManager) -> None:
    """Three on shard 1 queue on its lock; two on other shards run beside them and write
    the same fleet file: nothing is lost."""
    same = [f"c-{i:03d}" for i in range(200) if shard_of(f"c-{i:03d}", 3) == 1][:3]
    others = [
        next(f"o-{i:03d}" for i in range(200) if shard_of(f"o-{i:03d}", 3) == s) for s in (0, 2)
    ]
    ids = same + others
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def go(tenant: str) -> None:
        try:
            results[tenant] = fleet.provision(tenant, "free")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(t,)) for t in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == []
    assert sorted(results) == sorted(ids)
    assert {results[t].stack for t in same} == {"free-01"}
    assert {results[t].stack for t in others} == {"free-00", "free-02"}
    assert len({r.project_id for r in results.values()}) == len(ids)
    listed = {t.id for t in fleet.fleet("free").tenants}
    assert set(ids) <= listed
    assert set(same) <= set(fleet.engine.outputs("free-01"))


def test_markdown_preview_of_a_fleet_change(fleet: FleetManager) -> None:
    free = fleet.fleet("free")
    changed = free.with_tenant(TenantSpec(id="brand-new")).with_tenant(
        free.require("f-05").model_copy(update={"quota_overrides": {"active_time_seconds": 1000}})
    )
    save_fleet(fleet.fleet_path("free"), changed)
    try:
        diff = fleet.preview(["free"])
    finally:
        save_fleet(fleet.fleet_path("free"), free)
    assert diff.exit_code == 2
    assert [t.tenant for t in diff.of_kind("added")] == ["brand-new"]
    md = diff.to_markdown()
    assert "| added | `brand-new` | free |" in md
    assert "`f-05`" in md and "active_time_seconds" in md and "`1000`" in md
    assert not [t for t in diff.tenants if t.replaces]
    clean = fleet.preview(["free"])
    assert clean.exit_code == 0, clean.to_markdown()


def test_dev_branch_create_reset_delete_go_through_the_fleet(
    fleet: FleetManager, client: Any
) -> None:
    conn = fleet.create_dev_branch("p-00", "feature-x")
    assert fleet.fleet("pro").require("p-00").dev_branch("feature-x") is not None
    org = client.org("paid")
    names = {b.name for b in org.iter_branches(conn.project_id)}
    assert "feature-x" in names
    before = next(b for b in org.iter_branches(conn.project_id) if b.name == "feature-x")
    assert getattr(before, "last_reset_at", None) is None
    reset = fleet.reset_dev_branch("p-00", "feature-x")
    assert fleet.fleet("pro").require("p-00").require_dev_branch("feature-x").reset_trigger
    # the outcome in Neon: the same branch (not replaced) was reset to its parent
    after = next(b for b in org.iter_branches(conn.project_id) if b.name == "feature-x")
    assert after.id == before.id == reset.dev_branches["feature-x"].branch_id
    assert getattr(after, "last_reset_at", None)
    fleet.delete_dev_branch("p-00", "feature-x")
    assert fleet.fleet("pro").require("p-00").dev_branches == ()
    assert "feature-x" not in {b.name for b in org.iter_branches(conn.project_id)}


def test_snapshot_rotation_follows_the_free_tier_policy(fleet: FleetManager, client: Any) -> None:
    conn = fleet.snapshot("f-07", "first")
    fleet.snapshot("f-07", "second")
    assert [s.name for s in fleet.fleet("free").require("f-07").snapshots] == ["second"]
    live = client.org("free").list_snapshots(conn.project_id)
    assert [s.name for s in live] == ["second"]
    restored = fleet.restore_snapshot("f-07", "second")
    assert fleet.fleet("free").require("f-07").snapshots[0].restore_trigger
    # the outcome in Neon: a finalized restore made a new default branch, the outputs follow
    # it, and the replaced branch is gone (no `(old)` left behind on a free tenant)
    branches = list(client.org("free").iter_branches(conn.project_id))
    live = [b.id for b in branches if b.default]
    assert live == [restored.branch_id] and restored.branch_id != conn.branch_id
    assert not [b.name for b in branches if b.name.endswith("(old)")]
