"""`neon-tenants worker --usage` over a tenant provisioned in the PostgreSQL mode: the fleet
store, the Pulumi state and the job queue in PostgreSQL, a shard worker and the usage worker in
this process, the metadata emulator (issue 13 on issue 11's queue)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_usage_worker_reads_a_tenant_provisioned_in_postgresql_mode(
    fresh_db: Callable[[], str], metadata_emulator: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from procrastinate import App, PsycopgConnector

    from neon_tenants.automation import FleetManager
    from neon_tenants.db.schema import migrate
    from neon_tenants.jobs import WorkerSettings, run_worker
    from neon_tenants.monitoring.jobs import register_usage_job, run_usage_worker
    from neon_tenants.monitoring.pg_store import PostgresUsageStore

    url = fresh_db()
    migrate(url)
    env = {**metadata_emulator.client_env, "NEON_TENANTS_DATABASE_URL": url,
           "PULUMI_CONFIG_PASSPHRASE": "usage-worker-secret", "NEON_TENANTS_ARCHIVE": "off"}
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stacks = tmp_path / "stacks"
    with FleetManager(stacks, work_dir=tmp_path / "replica", neon_env=env) as fm:
        fm.provision("uw-one", "free", wait=False)
    run_worker(WorkerSettings(conninfo=url, work_dir=tmp_path / "shards", stacks_dir=stacks,
                              neon_env=env, stop_when_idle=True))
    with FleetManager(stacks, work_dir=tmp_path / "replica", neon_env=env) as fm:
        project_id = fm.show("uw-one").project_id
    metadata_emulator.admin("PUT", f"projects/{project_id}/usage",
                            json={"active_time_seconds": 300_000})  # 83 % of free's quota

    app = App(connector=PsycopgConnector(conninfo=url))
    task = register_usage_job(app, lambda: None)
    with app.open():
        task.defer(timestamp=1)
    run_usage_worker(WorkerSettings(conninfo=url, work_dir=tmp_path / "usage",
                                    stacks_dir=stacks, neon_env=env, stop_when_idle=True))
    store = PostgresUsageStore(url)
    try:
        reading = store.latest()["uw-one"]
        assert (reading.tier, reading.project_id) == ("free", project_id)
        assert reading.used["active_time_seconds"] == 300_000
        assert [(e.tenant, e.level) for e in store.events()] == [("uw-one", "warning")]
        assert store.last_cycle().tenants == 1
    finally:
        store.close()
