"""The monitoring store's contract, on files and on PostgreSQL (migration 3), and one usage
service cycle against the emulator with its state in PostgreSQL (issue 13)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.monitoring import CallbackSink, Event, FileUsageStore, Reading, TenantRef
from neon_tenants.monitoring.models import CycleReport, DeliveryRecord, Notice
from neon_tenants.monitoring.pg_store import PostgresUsageStore

_dirs = itertools.count()


@pytest.fixture(params=["files", "postgres"])
def store(request: pytest.FixtureRequest, migrated_url: str, tmp_path: Path) -> Iterator[Any]:
    if request.param == "files":
        yield FileUsageStore(tmp_path / f"s{next(_dirs)}")
        return
    import psycopg

    with psycopg.connect(migrated_url, autocommit=True) as conn:  # each test starts empty
        conn.execute("TRUNCATE nt_usage_latest, nt_usage_readings, nt_usage_events,"
                     " nt_usage_deliveries, nt_usage_notices, nt_usage_cycles")
    pg = PostgresUsageStore(migrated_url)
    yield pg
    pg.close()


def reading(tenant: str, used: int, period: str = "2026-11") -> Reading:
    return Reading(tenant=tenant, tier="free", project_id=f"p-{tenant}", org="free",
                   period=period, taken_at="2026-11-28T08:00:00Z",
                   used={"active_time_seconds": used}, limits={"active_time_seconds": 100},
                   sources={"active_time_seconds": "list"})


def event(n: int, period: str = "2026-11") -> Event:
    return Event(id=f"e{n}", kind="quota_threshold", tenant=f"t{n}", tier="free",
                 project_id=f"p{n}", period=period, created_at="2026-11-28T08:00:00Z")


def test_readings_latest_and_history_of_changes_only(store: Any) -> None:
    store.save_readings([reading("a", 1), reading("b", 2)])
    store.save_readings([reading("a", 1), reading("b", 3)])  # a unchanged: no history row
    assert {t: r.used["active_time_seconds"] for t, r in store.latest().items()} == {
        "a": 1, "b": 3}
    assert [(r.tenant, r.used["active_time_seconds"]) for r in store.history("2026-11")] == [
        ("a", 1), ("b", 2), ("b", 3)]


def test_events_are_raised_once_and_leave_the_outbox_when_every_sink_has_them(
    store: Any,
) -> None:
    assert [e.id for e in store.raise_once([event(1), event(2)])] == ["e1", "e2"]
    assert store.raise_once([event(1), event(3, "2026-12")]) == [event(3, "2026-12")]
    assert [e.id for e in store.pending()] == ["e1", "e2", "e3"]
    store.mark_delivered("e1", "webhook")
    store.mark_delivered("e1", "webhook")
    assert store.delivered("e1", "webhook") and not store.delivered("e1", "cb")
    store.settle(["webhook"])
    assert [e.id for e in store.pending()] == ["e2", "e3"]
    assert [e.id for e in store.events("2026-11")] == ["e1", "e2"]
    assert [e.id for e in store.events()] == ["e1", "e2", "e3"]


def test_deliveries_notices_and_cycles(store: Any) -> None:
    store.log_delivery(DeliveryRecord(event_id="e1", sink="webhook", attempt=1, at="x",
                                      ok=False, status=500))
    store.log_delivery(DeliveryRecord(event_id="e1", sink="webhook", attempt=2, at="y",
                                      ok=True, status=200))
    assert [(d.attempt, d.ok) for d in store.deliveries()] == [(1, False), (2, True)]
    n = Notice(tenant="t", tier="free", project_id="p", noticed_at="2026-11-01T00:00:00Z",
               delete_after="2026-11-08T00:00:00Z", last_active_at="2026-09-01T00:00:00Z")
    store.put_notice(n)
    store.put_notice(n.model_copy(update={"status": "cancelled"}))
    assert store.notices()["t"].status == "cancelled"
    assert store.last_cycle() is None
    for total in (5, 7):
        store.save_cycle(CycleReport(started_at="x", duration_seconds=1.0, tenants=1,
                                     readings=1, requests={}, requests_total=total,
                                     consumption_requests=0, project_reads=0))
    assert store.last_cycle().requests_total == 7


def test_a_service_cycle_keeps_its_state_in_postgresql(
    migrated_url: str, metadata_emulator: Any, tmp_path: Path
) -> None:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, ProjectCreate
    from neon_tenants.client.models.projects import ProjectQuota, ProjectSettings
    from tests.monitoring.test_watch_emulator import build, set_usage

    creds = NeonCredentials.from_file(metadata_emulator.credentials_file)
    with NeonClient(creds, ClientConfig(base_url=metadata_emulator.base_url)) as neon:
        made = neon.org("free").create_project(ProjectCreate(
            name="pgstore-t", settings=ProjectSettings(quota=ProjectQuota(
                active_time_seconds=100))))
        pid = made.project.id
        set_usage(metadata_emulator, pid, active_time_seconds=96)
        ref = TenantRef(tenant="pgstore-t", tier="free", project_id=pid, org="free")
        got: list[Event] = []
        svc = build(metadata_emulator, tmp_path, [ref], [CallbackSink(got.append)])
        pg = PostgresUsageStore(migrated_url)
        svc.store = svc.poller.store = svc.dispatcher.store = pg
        try:
            svc.run_once()
            svc.run_once()
            assert [(e.tenant, e.level) for e in got] == [("pgstore-t", "warning"),
                                                          ("pgstore-t", "critical")]
            assert pg.latest()["pgstore-t"].used["active_time_seconds"] == 96
            assert pg.pending() == [] and pg.last_cycle() is not None
        finally:
            pg.close()
            neon.org("free").delete_project(pid)


def test_the_usage_cycle_runs_as_a_periodic_job_on_the_queue(
    migrated_url: str, metadata_emulator: Any, tmp_path: Path
) -> None:
    """Registered every 15 minutes; a deferred tick is run by a real procrastinate worker on
    PostgreSQL and leaves its cycle and events in the PostgreSQL store."""
    from procrastinate import App, PsycopgConnector

    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, ProjectCreate
    from neon_tenants.client.models.projects import ProjectQuota, ProjectSettings
    from neon_tenants.monitoring.jobs import USAGE_QUEUE, USAGE_TASK, register_usage_job
    from tests.monitoring.test_watch_emulator import build, set_usage

    creds = NeonCredentials.from_file(metadata_emulator.credentials_file)
    with NeonClient(creds, ClientConfig(base_url=metadata_emulator.base_url)) as neon:
        made = neon.org("free").create_project(ProjectCreate(
            name="pgjob-t", settings=ProjectSettings(quota=ProjectQuota(
                active_time_seconds=100))))
        pid = made.project.id
        try:
            set_usage(metadata_emulator, pid, active_time_seconds=81)
            ref = TenantRef(tenant="pgjob-t", tier="free", project_id=pid, org="free")
            got: list[Event] = []
            svc = build(metadata_emulator, tmp_path, [ref], [CallbackSink(got.append)])
            pg = PostgresUsageStore(migrated_url)
            svc.store = svc.poller.store = svc.dispatcher.store = pg
            app = App(connector=PsycopgConnector(conninfo=migrated_url))
            task = register_usage_job(app, svc.run_once)
            periodic = app.periodic_registry.periodic_tasks[(USAGE_TASK, "usage-cycle")]
            assert periodic.cron == "*/15 * * * *"
            with app.open():
                task.defer(timestamp=0)
                app.run_worker(queues=[USAGE_QUEUE], wait=False, install_signal_handlers=False)
            assert [(e.tenant, e.level) for e in got] == [("pgjob-t", "warning")]
            assert pg.last_cycle() is not None and pg.last_cycle().readings == 1
            pg.close()
        finally:
            neon.org("free").delete_project(pid)


def test_usage_worker_runs_a_tick_over_the_fleet_in_postgresql(
    migrated_url: str, metadata_emulator: Any, tmp_path: Path
) -> None:
    """`neon-tenants worker --usage`: a worker on the usage queue only, with a FleetManager in
    the PostgreSQL mode (fleet store in the database) and its readings in PostgreSQL."""
    import psycopg
    from procrastinate import App, PsycopgConnector

    from neon_tenants.jobs import WorkerSettings
    from neon_tenants.monitoring.jobs import register_usage_job, run_usage_worker

    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("TRUNCATE nt_usage_cycles")
    app = App(connector=PsycopgConnector(conninfo=migrated_url))
    task = register_usage_job(app, lambda: None)  # this process only defers the tick
    with app.open():
        task.defer(timestamp=1)
    env = {**metadata_emulator.client_env, "NEON_TENANTS_DATABASE_URL": migrated_url,
           "PULUMI_CONFIG_PASSPHRASE": "usage-worker-test"}
    run_usage_worker(WorkerSettings(conninfo=migrated_url, work_dir=tmp_path / "work",
                                    stacks_dir=tmp_path / "stacks", neon_env=env,
                                    stop_when_idle=True))
    pg = PostgresUsageStore(migrated_url)
    try:
        cycle = pg.last_cycle()
        assert cycle is not None and cycle.tenants == 0  # this database's fleet is empty
    finally:
        pg.close()
