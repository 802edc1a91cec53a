"""Issue 12 in the PostgreSQL fleet store, per call, at 1,000 and 30,000 tenants, the file
store measured side by side in the same run: a fleet-level app revision change (every
unpinned row pending, its shards queued), a finished rollout dropping its pins (nothing
pending), a tenant look-up (its shard vs the whole tier), and a checkpoint record and read
(`nt_checkpoints`).

    source scripts/env.sh && .venv/bin/python -m benchmarks.bench_fleet_edit [--sizes 1000,30000]

A throwaway PostgreSQL 15; no engine (these are the store's own costs).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchmarks._fleet_harness import line, timed
from neon_tenants.automation._store import FileFleetStore
from neon_tenants.checkpoint import Checkpoint
from neon_tenants.db.fleet_view import PostgresFleetView
from neon_tenants.db.local_server import LocalPostgres
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import FleetSpec, TenantSpec, save_fleet
from neon_tenants.tenant.model import SnapshotSpec

TIER = "pro"


def _ratio(name: str, slow: float, fast: float) -> None:
    print(json.dumps({"name": name, "ratio": round(slow / max(fast, 1e-6), 1)}), flush=True)


Edit = Callable[[FleetSpec], FleetSpec]


def _revision(revision: str) -> Edit:
    return lambda f: f.model_copy(update={"app_revision": revision})


def _finish(revision: str) -> Edit:
    """What a finished rollout does: the fleet moves to `revision`, the pins go."""
    def edit(f: FleetSpec) -> FleetSpec:
        tenants = tuple(t.model_copy(update={"app_revision": None})
                        if t.app_revision == revision else t for t in f.tenants)
        return f.model_copy(update={"app_revision": revision, "tenants": tenants})

    return edit


def run(root: Path, url: str, n: int) -> None:
    shards = min(max(n // 100, 1), 99)
    fleet = FleetSpec(tier=TIER, shards=shards, app_revision="r0", migration_command="./migrate",
                      tenants=tuple(TenantSpec(id=f"f{i:05d}") for i in range(n)))
    reps = 3 if n > 5000 else 5
    files = FileFleetStore(root / f"stacks-{n}", root / "locks", {TIER: shards})
    save_fleet(files.path(TIER), fleet)
    file_edit = line(f"file_store_fleet_revision_edit_{n}",
                     [timed(lambda i=i: files.edit(TIER, _revision(f"f{i}")))
                      for i in range(reps)])

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DELETE FROM nt_tenants WHERE tier = %s", (TIER,))
        db.execute("DELETE FROM nt_fleets WHERE tier = %s", (TIER,))
    rows = PostgresFleetStore(url)
    queued: set[int] = set()
    view = PostgresFleetView(rows, {TIER: shards}, on_pending=lambda t, s: queued.add(s))
    try:
        line(f"pg_store_import_{n}", [timed(lambda: rows.import_fleet(fleet))])
        pg_edit = line(f"pg_store_fleet_revision_edit_{n}",
                       [timed(lambda i=i: view.edit(TIER, _revision(f"p{i}")))
                        for i in range(reps)],
                       pending_of_first_50=sum(r.status == "pending" for r in
                                        (rows.get(TIER, t.id) for t in fleet.tenants[:50])),
                       shards_queued=len(queued))
        _ratio(f"file_over_pg_fleet_revision_edit_{n}", file_edit, pg_edit)

        # a finished rollout: every tenant pinned to the new revision, then the fleet moves
        # to it and the pins go (nothing a run declares changes: no row pending)
        samples, pending = [], 0
        for i in range(reps):
            target = f"done{i}"
            view.edit(TIER, lambda f, t=target: f.model_copy(update={"tenants": tuple(
                x.model_copy(update={"app_revision": t}) for x in f.tenants)}))
            queued.clear()
            samples.append(timed(lambda t=target: view.edit(TIER, _finish(t))))
            pending += len(queued)
        line(f"pg_store_rollout_finish_edit_{n}", samples, shards_queued=pending)

        ids = [t.id for t in fleet.tenants[:: max(n // 20, 1)]]
        whole = line(f"pg_store_load_whole_tier_{n}",
                     [timed(lambda: view.load(TIER)) for _ in range(reps)])
        place = {t: view.placement(TIER, t).shard for t in ids}
        shard = line(f"pg_store_load_tenant_shard_{n}",
                     [timed(lambda s=place[t]: view.load(TIER, s)) for t in ids])
        _ratio(f"whole_tier_over_shard_load_{n}", whole, shard)

        def record(tenant: str) -> None:
            cp = Checkpoint(label="bench", snapshot="cp-bench", app_revision="r1",
                            metadata={"run": tenant}, created_at=datetime.now(UTC))
            spec = view.get(TIER, tenant)
            assert spec is not None
            view.put(TIER, spec.model_copy(update={
                "snapshots": (SnapshotSpec(name=cp.snapshot),), "checkpoints": (cp,)}))

        line(f"pg_store_checkpoint_record_{n}", [timed(lambda t=t: record(t)) for t in ids])
        line(f"pg_store_checkpoints_read_{n}",
             [timed(lambda t=t: rows.checkpoints(t)) for t in ids])
        line(f"pg_store_tenant_get_with_checkpoint_{n}",
             [timed(lambda t=t: view.get(TIER, t)) for t in ids])
    finally:
        rows.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,30000")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-fleet-edit-"))
    with LocalPostgres() as pg:
        migrate(pg.url)
        for n in (int(s) for s in args.sizes.split(",")):
            run(root, pg.url, n)


if __name__ == "__main__":
    main()
