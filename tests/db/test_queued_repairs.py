"""PostgreSQL mode: a repeated provision, a row whose run was never queued and a failed
queued delete (issue 11). Real PostgreSQL, real engine, two `neon-tenants worker`
processes and the metadata emulator (its fault injection makes Neon refuse a delete);
the platform and backend replica of test_queued_operations.py.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from neon_tenants.automation import DeploymentFailed, TenantNotFound
from neon_tenants.monitoring.jobs import USAGE_QUEUE
from neon_tenants.tenant import SnapshotSpec, TenantSpec
from tests.db import test_queued_operations as queued
from tests.db._hosts import Platform, projects
from tests.db.test_queued_operations import Backend

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# the same module-scoped fixtures: a platform with two workers, a backend replica
platform = queued.platform
backend = queued.backend


def _row(platform: Platform, tenant: str) -> tuple[Any, ...]:
    with psycopg.connect(platform.url) as db:
        row = db.execute(
            "SELECT spec, status, version FROM nt_tenants WHERE tenant_id = %s", (tenant,)
        ).fetchone()
    assert row is not None
    return tuple(row)


def _jobs(platform: Platform) -> int:
    with psycopg.connect(platform.url) as db:
        # shard runs and operations only (a worker's periodic usage job may be deferred
        # meanwhile)
        found = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name <> %s", (USAGE_QUEUE,)
        ).fetchone()
    assert found is not None
    return int(found[0])


def _snapshots(platform: Platform, project_id: str) -> list[str]:
    client = queued._neon(platform)
    try:
        return [s.name for s in client.org("free").list_snapshots(project_id)]
    finally:
        client.close()


@pytest.fixture(scope="module")
def signed_up(backend: Backend) -> dict[str, str]:
    """Two tenants of one shard, signed up at once (one run): one declares a snapshot."""
    fm = backend.fm
    names = {"keep": queued._on_shard("rp-keep", 0), "gone": queued._on_shard("rp-gone", 0)}
    fm.provision(names["keep"], "free", TenantSpec(
        id=names["keep"], snapshots=(SnapshotSpec(name="keep"),)), wait=False)
    fm.provision(names["gone"], "free", wait=False)
    for tid in names.values():
        assert fm.wait(tid, 600).status == "ready"
    return names


def test_provisioning_an_existing_tenant_again_keeps_it_unchanged(
    platform: Platform, backend: Backend, signed_up: dict[str, str]
) -> None:
    fm, t = backend.fm, signed_up["keep"]
    conn = fm.show(t)
    assert _snapshots(platform, conn.project_id) == ["keep"]
    row, jobs = _row(platform, t), _jobs(platform)

    again = fm.provision(t, "free", wait=False)  # no spec: the platform's sign-up retried
    assert again.status == "ready" and again.version == row[2]
    assert fm.provision(t, "free").project_id == conn.project_id
    # no write, no job: the declared snapshot stays declared, so no run deletes it
    assert _row(platform, t) == row
    assert _jobs(platform) == jobs
    assert _snapshots(platform, conn.project_id) == ["keep"]


def test_a_row_whose_run_was_never_queued_is_applied_by_a_worker(
    platform: Platform, backend: Backend
) -> None:
    t = "rp-stranded"
    replica = platform.replica()
    try:
        # what a backend replica that died between the row's commit and `defer_shard` leaves
        replica.store.ensure_fleet("free", platform.shards)
        replica.store.request("free", TenantSpec(id=t))
        with psycopg.connect(platform.url) as db:
            db.execute("UPDATE nt_tenants SET requested_at = now() - interval '1 minute'"
                       " WHERE tenant_id = %s", (t,))
        assert _row(platform, t)[1] == "pending"
        # the workers' recovery loop queues the shard's run
        assert replica.wait(t, 60).status == "ready", platform.logs()
    finally:
        replica.close()
        replica.store.close()
    assert backend.fm.show(t).project_id in {p.id for p in projects(platform.emu)}


def test_a_queued_delete_that_neon_refused_is_finished_by_a_retry(
    platform: Platform, backend: Backend, signed_up: dict[str, str]
) -> None:
    fm, t = backend.fm, signed_up["gone"]
    pid = fm.show(t).project_id
    refuse = {"faults": [{"route": "DELETE /projects/{project_id}", "error_rate": 1.0,
                          "status": 403}]}
    platform.emu.admin("PUT", "/_emulator/faults", refuse)
    try:
        with pytest.raises(DeploymentFailed):
            fm.delete(t)
    finally:
        platform.emu.admin("PUT", "/_emulator/faults", {"faults": []})
    status = fm.status(t)
    assert (status.status, status.kind) == ("failed", "delete"), status
    assert pid in {p.id for p in projects(platform.emu)}  # Neon refused: still there

    fm.delete(t)  # the retry finds the tenant in its stack (no fleet row) and finishes
    assert fm.status(t).status == "deleted"
    assert pid not in {p.id for p in projects(platform.emu)}
    with pytest.raises(TenantNotFound):
        fm.delete(t)  # nothing left anywhere
