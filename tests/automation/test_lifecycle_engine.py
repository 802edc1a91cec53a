"""Undo, snapshot restore and dev-branch reset with a dev branch present, through
FleetManager, the real engine and the emulator with PostgreSQL behind every branch: each
asserts the rows that come back, and that the branch count stays within the free cap."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from neon_tenants.automation import FleetManager

from .conftest import connect, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


def _rows(uri: str) -> list[str]:
    with connect(uri) as db:
        return [r[0] for r in db.execute("select body from notes order by id")]


def _add(uri: str, body: str) -> None:
    with connect(uri) as db:
        db.execute("insert into notes (body) values (%s)", (body,))


def _moment() -> datetime:
    time.sleep(1.2)
    moment = datetime.now(UTC)
    time.sleep(1.2)
    return moment


def test_snapshot_restore_then_undo_with_a_dev_branch_act_on_the_live_default_branch(
    pg_fleet: FleetManager, emulator: Any
) -> None:
    conn = pg_fleet.provision("life-a", "free")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
    _add(uri, "A")
    with_dev = pg_fleet.create_dev_branch("life-a", "dev")
    dev = with_dev.dev_branches["dev"]
    assert _rows(dev.connection_uri.get_secret_value()) == ["A"]
    _add(dev.connection_uri.get_secret_value(), "dev-only")

    pg_fleet.snapshot("life-a", "v1")
    _add(uri, "B")
    restored = pg_fleet.restore_snapshot("life-a", "v1")
    # the outputs follow the new default branch even though a dev branch exists
    with neon_client(emulator) as client:
        live = [b for b in client.org("free").iter_branches(conn.project_id) if b.default]
    assert restored.branch_id == live[0].id != conn.branch_id
    assert _rows(restored.connection_uri.get_secret_value()) == ["A"]
    # the dev branch was neither replaced nor reset by the restore
    after = restored.dev_branches["dev"]
    assert after.branch_id == dev.branch_id
    assert _rows(after.connection_uri.get_secret_value()) == ["A", "dev-only"]

    live_uri = restored.connection_uri.get_secret_value()
    _add(live_uri, "C")
    moment = _moment()
    _add(live_uri, "D")
    undo = pg_fleet.restore("life-a", moment)
    assert undo.branch_id == restored.branch_id  # the live default, not the stale id
    assert _rows(pg_fleet.show("life-a").connection_uri.get_secret_value()) == ["A", "C"]
    diff = pg_fleet.preview(["free"])
    assert diff.exit_code == 0, diff.to_markdown()


def test_reset_dev_branch_brings_back_the_parent_rows(pg_fleet: FleetManager) -> None:
    conn = pg_fleet.provision("life-r", "pro")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
    _add(uri, "P1")
    dev = pg_fleet.create_dev_branch("life-r", "dev").dev_branches["dev"]
    dev_uri = dev.connection_uri.get_secret_value()
    _add(dev_uri, "scratch")
    _add(uri, "P2")
    assert _rows(dev_uri) == ["P1", "scratch"]
    reset = pg_fleet.reset_dev_branch("life-r", "dev").dev_branches["dev"]
    assert reset.branch_id == dev.branch_id
    assert _rows(reset.connection_uri.get_secret_value()) == ["P1", "P2"]


def test_twelve_undos_on_a_free_tenant_stay_within_the_branch_cap(
    pg_fleet: FleetManager, emulator: Any
) -> None:
    conn = pg_fleet.provision("life-u", "free")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
    pg_fleet.create_dev_branch("life-u", "dev")
    cap = pg_fleet.catalog.tiers["free"].branch_cap
    counts: list[int] = []
    results = []
    with neon_client(emulator) as client:
        org = client.org("free")
        for i in range(12):
            _add(uri, f"keep-{i}")
            moment = _moment()
            _add(uri, f"undo-{i}")
            results.append(pg_fleet.restore("life-u", moment))
            assert _rows(uri)[-1] == f"keep-{i}"
            branches = list(org.iter_branches(conn.project_id))
            counts.append(len(branches))
            assert len(branches) <= cap, [b.name for b in branches]
    assert _rows(uri) == [f"keep-{i}" for i in range(12)]
    kept = {b.name for b in branches if b.name.startswith("pre-restore-")}
    # the tier keeps 1 undo branch (the newest); Neon moved the dev branch onto the first
    # preserved branch (a restored branch's children move to the preserved one), which
    # therefore stays while the dev branch exists; nothing else accumulates
    assert pg_fleet.catalog.tiers["free"].restore_branches_kept == 1
    assert kept == {results[0].preserved_branch, results[-1].preserved_branch}
    assert counts[1:] == [counts[1]] * 11 and counts[1] == 4  # default, dev, 2 kept


def test_dev_branch_at_a_past_timestamp_has_the_rows_of_that_moment(
    pg_fleet: FleetManager,
) -> None:
    conn = pg_fleet.provision("life-t", "pro")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
    _add(uri, "then")
    moment = _moment()
    _add(uri, "later")
    past = pg_fleet.create_dev_branch("life-t", "past", parent_timestamp=moment)
    branch = past.dev_branches["past"]
    assert _rows(branch.connection_uri.get_secret_value()) == ["then"]
    assert _rows(uri) == ["then", "later"]
    spec = pg_fleet.fleet("pro").require("life-t").require_dev_branch("past")
    assert spec.parent_timestamp is not None
    diff = pg_fleet.preview(["pro"])
    assert diff.exit_code == 0, diff.to_markdown()


TINY = """\
tiers:
  tiny:
    org: free
    quota: {compute_time_seconds: 1, active_time_seconds: 360000}
    min_cu: 0.25
    max_cu: 2
    suspend_timeout_seconds: 300
    history_retention_seconds: 86400
    snapshot_cap: 1
    snapshot_policy: replace
    branch_cap: 10
"""


def test_downgrade_is_refused_on_compute_time_before_any_change(
    pg_fleet: FleetManager, emulator: Any, tmp_path: Any
) -> None:
    """The period's compute time (real compute uptime x CU) exceeds the target tier's
    quota: refused with the numbers, the project keeps its org and its history window, and
    the fleet files are unchanged."""
    from neon_tenants.automation import LimitsExceeded
    from neon_tenants.catalog import load_catalog

    (tmp_path / "tiers.yaml").write_text(TINY)
    fm = FleetManager(pg_fleet.stacks_dir, work_dir=pg_fleet.work_dir,
                      backend_url=pg_fleet.backend_url, lock_dir=pg_fleet.lock_dir,
                      neon_env=emulator.client_env,
                      catalog=load_catalog(tmp_path / "tiers.yaml"))
    conn = fm.provision("life-d", "pro")
    with connect(conn.connection_uri.get_secret_value()) as db:
        db.execute("select pg_sleep(10)")  # >= 10 s of compute at 0.25 CU = 2.5 CU-seconds
    fleets = {p.name: p.read_bytes() for p in (fm.stacks_dir / "fleets").glob("*.yaml")}
    with neon_client(emulator) as client:
        before = client.org("paid").get_project(conn.project_id)
        with pytest.raises(LimitsExceeded) as info:
            fm.downgrade("life-d", "tiny")
        after = client.org("paid").get_project(conn.project_id)
    assert info.value.http_status == 409
    found = {v["name"]: v for v in info.value.details["violations"]}
    assert found["compute_time_seconds"]["limit"] == 1
    assert int(found["compute_time_seconds"]["actual"]) >= 2
    assert "compute_time_seconds" in str(info.value)
    assert after.org_id == before.org_id
    assert after.history_retention_seconds == before.history_retention_seconds == 604800
    assert {p.name: p.read_bytes() for p in (fm.stacks_dir / "fleets").glob("*.yaml")} == fleets
    fm.close()
