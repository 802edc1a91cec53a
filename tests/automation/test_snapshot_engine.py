"""Snapshot + restore_snapshot through FleetManager on the real emulator (PostgreSQL behind)."""

from __future__ import annotations

from typing import Any

import pytest

from neon_tenants.automation import FleetManager

from .conftest import connect, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


def _bodies(uri: str) -> list[str]:
    with connect(uri) as db:
        return [r[0] for r in db.execute("select body from notes order by id")]


@pytest.mark.parametrize(("tier", "org_alias"), [("pro", "paid"), ("free", "free")])
def test_restore_snapshot_brings_back_the_data_as_it_was_at_the_snapshot(
    pg_fleet: FleetManager, emulator: Any, tier: str, org_alias: str
) -> None:
    tenant = f"snap-{tier}"
    conn = pg_fleet.provision(tenant, tier)
    with connect(conn.connection_uri.get_secret_value()) as db:
        db.execute("create table notes (id serial primary key, body text)")
        db.execute("insert into notes (body) values ('A')")
    pg_fleet.snapshot(tenant, "v1")
    with connect(conn.connection_uri.get_secret_value()) as db:
        db.execute("insert into notes (body) values ('B')")
    assert _bodies(conn.connection_uri.get_secret_value()) == ["A", "B"]

    returned = pg_fleet.restore_snapshot(tenant, "v1")
    shown = pg_fleet.show(tenant)
    assert shown == returned
    assert shown.project_id == conn.project_id
    assert _bodies(shown.connection_uri.get_secret_value()) == ["A"]

    with neon_client(emulator) as client:
        org = client.org(org_alias)
        branches = list(org.iter_branches(conn.project_id))
        snaps = [s.name for s in org.list_snapshots(conn.project_id)]
    assert not [b.name for b in branches if b.name.endswith("(old)")]
    default = [b for b in branches if b.default]
    assert len(default) == 1
    # the outputs follow the branch id that changed with the finalized restore
    assert shown.branch_id == default[0].id
    assert snaps == ["v1"]

    # free's "replace" rotation keeps exactly one snapshot; pro keeps both
    pg_fleet.snapshot(tenant, "v2")
    with neon_client(emulator) as client:
        snaps = [s.name for s in client.org(org_alias).list_snapshots(conn.project_id)]
    assert snaps == (["v2"] if tier == "free" else ["v1", "v2"])

    # the restore is declared in the fleet, and the stack converges with no change after it
    diff = pg_fleet.preview([tier])
    assert diff.exit_code == 0, diff.to_markdown()


def test_restoring_one_snapshot_then_another_follows_the_moved_branch(
    pg_fleet: FleetManager, emulator: Any
) -> None:
    """Both snapshots were taken on the original branch; after the first restore it is gone
    (deleted as `(old)`), so the second restore must target the branch that replaced it."""
    tenant = "snap-twice"
    conn = pg_fleet.provision(tenant, "pro")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
        db.execute("insert into notes (body) values ('A')")
    pg_fleet.snapshot(tenant, "v1")
    with connect(uri) as db:
        db.execute("insert into notes (body) values ('B')")
    pg_fleet.snapshot(tenant, "v2")
    with connect(uri) as db:
        db.execute("insert into notes (body) values ('C')")

    first = pg_fleet.restore_snapshot(tenant, "v1")
    assert _bodies(first.connection_uri.get_secret_value()) == ["A"]
    second = pg_fleet.restore_snapshot(tenant, "v2")
    assert _bodies(second.connection_uri.get_secret_value()) == ["A", "B"]
    assert second.branch_id not in (conn.branch_id, first.branch_id)

    with neon_client(emulator) as client:
        branches = list(client.org("paid").iter_branches(conn.project_id))
    assert not [b.name for b in branches if b.name.endswith("(old)")]
    assert [b.id for b in branches if b.default] == [second.branch_id]
    diff = pg_fleet.preview(["pro"])
    assert diff.exit_code == 0, diff.to_markdown()
