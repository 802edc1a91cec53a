"""The inactive tenant is archived (pg_dump through the fleet's archive step) and deleted only
after its notice's date: real engine, real-Postgres emulator (issues 13 and 10 item 7)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.archive import ArchiveSettings, read_manifest
from neon_tenants.automation import FleetManager
from neon_tenants.client.errors import NotFound
from neon_tenants.monitoring import CleanupPolicy, Event, build_service
from neon_tenants.monitoring.readings import iso
from tests.automation.conftest import Recorder, connect, make_manager, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def fleet(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetManager]:
    root = tmp_path_factory.mktemp("cleanup-archive")
    settings = ArchiveSettings(dir=root / "archives")
    with make_manager(root, emulator, Recorder(), archive=settings) as fm:
        yield fm


def test_idle_tenant_is_archived_then_deleted_only_after_its_date(
    fleet: FleetManager, emulator: Any, tmp_path: Path
) -> None:
    conn = fleet.provision("idle-pg", "free")
    with connect(conn.connection_uri.get_secret_value()) as db:
        db.execute("create table notes (id int primary key, body text)")
        db.execute("insert into notes select g, 'row ' || g from generate_series(1, 20) g")
    real_now = datetime.now(UTC)
    emulator.admin("PUT", f"projects/{conn.project_id}/usage",
                   json={"compute_last_active_at": iso(real_now - timedelta(days=45))})
    clock = [real_now]
    got: list[Event] = []
    svc = build_service(fleet, store_dir=tmp_path, callbacks=[got.append],
                        cleanup=CleanupPolicy(inactive_days=30, notice_days=3),
                        now=lambda: clock[0])  # fmt: skip
    svc.run_once()
    assert [(e.kind, e.tenant) for e in got] == [("cleanup_notice", "idle-pg")]
    clock[0] = real_now + timedelta(days=2)
    svc.run_once()
    assert len(got) == 1 and fleet.archives("idle-pg") == []  # not before the date

    clock[0] = real_now + timedelta(days=3, minutes=1)
    svc.run_once()
    assert [(e.kind, e.tenant) for e in got[1:]] == [("cleanup_deleted", "idle-pg")]
    [manifest] = fleet.archives("idle-pg")
    archived = read_manifest(manifest)
    assert archived.tenant == "idle-pg" and archived.project_id == conn.project_id
    assert "idle-pg" not in {t.id for t in fleet.fleet("free").tenants}
    with neon_client(emulator) as neon, pytest.raises(NotFound):
        neon.org("free").get_project(conn.project_id)
