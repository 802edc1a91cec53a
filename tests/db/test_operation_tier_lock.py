"""A queued operation holds the tier's reshard lock (shared), like a shard run: `reshard`
(exclusive) never exports/imports stack state beside an operation that changes it. Real
PostgreSQL 15; the operation is refused by its worker right after the lock (the worker's
stack config keeps the tier in files), so no engine is needed to see when it ran."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from neon_tenants.automation import FleetManager
from neon_tenants.catalog import builtin_catalog
from neon_tenants.db.fleet_view import PostgresFleetView
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.jobs._op_run import OperationRunner
from neon_tenants.jobs._ops import OperationStore


def _waiting_advisory_locks(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return int(row[0]) if row else 0


def test_an_operation_waits_for_a_reshard_of_either_tier_it_touches(
    migrated_url: str, tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    (stacks / "fleets").mkdir(parents=True)
    (stacks / "fleets" / "free.yaml").write_text("tier: free\ntenants: []\n")
    store = PostgresFleetStore(migrated_url)
    ops = OperationStore(migrated_url)
    runner = OperationRunner(migrated_url, tmp_path / "work", builtin_catalog(),
                             stacks_dir=stacks)
    try:
        store.ensure_fleet("free", 1)
        store.ensure_fleet("pro", 2)
        for target in ("free", "pro"):  # the reshard of the source tier, then of the target's
            op = ops.create("t1", "free", "free", "upgrade", {"tier": "pro"})
            with store.tier_lock(target, exclusive=True):  # what `reshard` holds
                worker = threading.Thread(target=runner, args=(op.id,))
                worker.start()
                deadline = time.monotonic() + 10
                while _waiting_advisory_locks(migrated_url) == 0:
                    assert time.monotonic() < deadline, f"the operation never waited ({target})"
                    time.sleep(0.05)
                time.sleep(0.3)
                assert worker.is_alive()
                got = ops.get(op.id)
                assert got is not None and got.status in ("queued", "running"), got
            worker.join(30)
            assert not worker.is_alive()
            got = ops.get(op.id)
            assert got is not None and got.status == "failed" and "files" in (got.error or "")
    finally:
        runner.close()
        ops.close()
        store.close()


def test_a_whole_tier_up_waits_for_a_reshard_then_runs(
    migrated_url: str, tmp_path: Path, metadata_emulator: Any
) -> None:
    """`FleetManager.up` of a PostgreSQL-store tier (the infra team's `neon-tenants up`) takes
    the tier's shared lock first, like a worker's runs: it starts only once `reshard` lets go,
    and then reads the tier's shape (real engine, an empty shard)."""
    rows = PostgresFleetStore(migrated_url)
    rows.ensure_fleet("enterprise", 1)
    fm = FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work",
                      backend_url=f"file://{tmp_path / 'state'}", lock_dir=tmp_path / "locks",
                      neon_env=metadata_emulator.client_env, archive=False,
                      store=PostgresFleetView(rows))
    ran: list[list[str]] = []
    try:
        with rows.tier_lock("enterprise", exclusive=True):  # what `reshard` holds
            worker = threading.Thread(target=lambda: ran.append(fm.up("enterprise")))
            worker.start()
            deadline = time.monotonic() + 10
            while _waiting_advisory_locks(migrated_url) == 0:
                assert time.monotonic() < deadline, "the up never waited for the tier lock"
                time.sleep(0.05)
            time.sleep(0.3)
            assert worker.is_alive() and ran == []
        worker.join(180)
        assert not worker.is_alive()
        assert ran == [["enterprise"]]
        assert "enterprise" in fm.engine.stack_names()  # the engine ran: the stack exists
    finally:
        fm.close()
        rows.close()
