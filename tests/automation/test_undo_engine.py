"""Point-in-time undo through FleetManager on the real emulator (PostgreSQL behind)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from neon_tenants.automation import FleetManager

from .conftest import connect, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


def test_restore_brings_back_the_data_as_it_was_at_t(pg_fleet: FleetManager, emulator: Any) -> None:
    conn = pg_fleet.provision("undo-me", "free")
    uri = conn.connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (id serial primary key, body text)")
        db.execute("insert into notes (body) values ('before')")
    time.sleep(1.5)
    moment = datetime.now(UTC)
    time.sleep(1.5)
    with connect(uri) as db:
        db.execute("insert into notes (body) values ('after')")
        assert [r[0] for r in db.execute("select body from notes order by id")] == [
            "before",
            "after",
        ]
    result = pg_fleet.restore("undo-me", moment)
    assert result.branch_id == conn.branch_id
    with connect(uri) as db:
        assert [r[0] for r in db.execute("select body from notes order by id")] == ["before"]
    with neon_client(emulator) as client:
        names = {b.name for b in client.org("free").iter_branches(conn.project_id)}
    assert result.preserved_branch in names
    # the undo is imperative: the stack still converges with no change
    assert pg_fleet.preview(["free"]).exit_code == 0
