"""`neon-tenants fleet import` in PostgreSQL mode (real PostgreSQL 15, the CLI as a process):
an unchanged re-import queues nothing, a changed spec queues its shard's run, and a different
shard count is refused (shards change through `reshard` only) with nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet, shard_of


def _import(url: str, stacks: Path) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
    env.update({"NEON_TENANTS_DATABASE_URL": url, "NEON_TENANTS_STACKS_DIR": str(stacks)})
    return subprocess.run([exe, "fleet", "import", "--tier", "free", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)


def _jobs(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT args FROM procrastinate_jobs WHERE status = 'todo'"
                            " ORDER BY id").fetchall()
    return [dict(r[0]) for r in rows]


def _rows(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT tenant_id, shard, status, version FROM nt_tenants"
                            " ORDER BY tenant_id").fetchall()


def test_fleet_import_queues_changed_shards_and_never_reshards(
    migrated_url: str, pg_server: Any, tmp_path: Path
) -> None:
    stacks = tmp_path / "stacks"
    (stacks / "fleets").mkdir(parents=True)
    ids = ["imp-a", "imp-b", "imp-c"]
    save_fleet(stacks / "fleets" / "free.yaml",
               FleetSpec(tier="free", shards=2, tenants=[TenantSpec(id=t) for t in ids]))
    first = _import(migrated_url, stacks)
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads(first.stdout)["changed"] == 3
    assert {r[2] for r in _rows(migrated_url)} == {"ready"} and _jobs(migrated_url) == []

    again = _import(migrated_url, stacks)  # unchanged: nothing to apply, nothing queued
    assert json.loads(again.stdout)["changed"] == 0 and _jobs(migrated_url) == []

    changed = FleetSpec(tier="free", shards=2, tenants=[
        TenantSpec(id="imp-a", protected=True), TenantSpec(id="imp-b"), TenantSpec(id="imp-c")])
    save_fleet(stacks / "fleets" / "free.yaml", changed)
    third = _import(migrated_url, stacks)
    assert third.returncode == 0, third.stdout + third.stderr
    shard = shard_of("imp-a", 2)
    assert json.loads(third.stdout)["queued_shards"] == [shard]
    assert _jobs(migrated_url) == [{"tier": "free", "shard": shard}]
    before = _rows(migrated_url)
    assert [r[2] for r in before if r[0] == "imp-a"] == ["pending"]

    save_fleet(stacks / "fleets" / "free.yaml", changed.model_copy(update={"shards": 3}))
    refused = _import(migrated_url, stacks)
    assert refused.returncode == 1
    out = refused.stdout + refused.stderr
    assert "neon-tenants reshard --tier free --shards 3" in out and "database has 2" in out
    assert pg_server.password not in out
    with psycopg.connect(migrated_url) as conn:
        row = conn.execute("SELECT shards FROM nt_fleets WHERE tier = 'free'").fetchone()
    assert row is not None and row[0] == 2
    assert _rows(migrated_url) == before and len(_jobs(migrated_url)) == 1
