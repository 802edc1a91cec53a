"""`neon-tenants worker --concurrency 3`: one process runs jobs of different shards at once and
never two jobs of one shard; and the default worker runs the usage cycle on its own queue.

Real PostgreSQL 15 (rows, queue, state), the real engine and the metadata emulator; the
concurrent worker is a real `neon-tenants worker` process with its own HOME and work dir.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.catalog import load_catalog
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs import ShardQueue
from tests.db._hosts import Platform
from tests.db.test_queue_engine import _mates, _projects

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    url = fresh_db()
    migrate(url)
    p = Platform(url, metadata_emulator, tmp_path_factory.mktemp("concurrency"))
    exe = str(Path(sys.executable).parent / "neon-tenants")
    log = open(p.root / "wc.log", "ab")  # noqa: SIM115
    p.workers["wc"] = subprocess.Popen(
        [exe, "worker", "--concurrency", "3", "--shards-only", "--heartbeat", "1"],
        env=p.env("wc"), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    try:
        yield p
    finally:
        p.stop()


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_one_worker_runs_different_shards_at_once_never_one_shard_twice(
    platform: Platform,
) -> None:
    first = [t for s in range(3) for t in _mates(f"cc{s}", s, 3)]
    second = [_mates(f"cd{s}", s, 1)[0] for s in range(3)]
    q = ShardQueue(PostgresFleetStore(platform.url, max_size=2), platform.url, load_catalog(),
                   default_shards={"free": 3})
    try:
        for tid in first:
            q.request("free", TenantSpec(id=tid))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # wait for the first runs to start, then ask more:
            with psycopg.connect(platform.url) as db:  # those wait for their shard's lock
                started = db.execute("SELECT count(*) FROM nt_runs").fetchone()
            if started and started[0]:
                break
            time.sleep(0.2)
        for tid in second:
            q.request("free", TenantSpec(id=tid))
        done = [q.wait(t, timeout=600) for t in first + second]
    finally:
        q.close()
        q.store.close()
    assert [d.status for d in done] == ["ready"] * len(done), platform.logs()
    names = sorted(p.name for p in _projects(platform.emu) if p.name.startswith(("nt-cc", "nt-cd")))
    assert names == sorted(f"nt-{t}" for t in first + second)  # none twice, none missing
    with psycopg.connect(platform.url) as db:
        runs = db.execute(
            "SELECT shard, started_at, finished_at, pid FROM nt_runs ORDER BY id").fetchall()
    assert {r[3] for r in runs} == {platform.workers["wc"].pid}  # one process did them all
    assert all(r[2] is not None for r in runs)
    spans = [(r[0], (r[1], r[2])) for r in runs]
    same = [(a, b) for i, (sa, a) in enumerate(spans) for sb, b in spans[i + 1:] if sa == sb]
    other = [(a, b) for i, (sa, a) in enumerate(spans) for sb, b in spans[i + 1:] if sa != sb]
    assert not any(_overlap(a, b) for a, b in same), runs  # never two runs of one shard
    assert any(_overlap(a, b) for a, b in other), runs  # different shards in parallel


def test_the_default_worker_runs_the_usage_cycle_on_its_own_queue(
    fresh_db: Any, metadata_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neon_tenants.automation import FleetManager
    from neon_tenants.jobs import WorkerSettings, run_worker
    from neon_tenants.jobs._tasks import make_app
    from neon_tenants.monitoring.jobs import USAGE_QUEUE, register_usage_job
    from neon_tenants.monitoring.pg_store import PostgresUsageStore

    url = fresh_db()
    migrate(url)
    env = {**metadata_emulator.client_env, "NEON_TENANTS_DATABASE_URL": url,
           "PULUMI_CONFIG_PASSPHRASE": "usage-default-secret", "NEON_TENANTS_ARCHIVE": "off"}
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    stacks = tmp_path / "stacks"
    with FleetManager(stacks, work_dir=tmp_path / "replica", neon_env=env) as fm:
        fm.provision("du-one", "free", wait=False)
    settings: dict[str, Any] = dict(conninfo=url, work_dir=tmp_path / "w", stacks_dir=stacks,
                                    neon_env=env, stop_when_idle=True)
    run_worker(WorkerSettings(**settings, usage=False))
    with FleetManager(stacks, work_dir=tmp_path / "replica", neon_env=env) as fm:
        project_id = fm.show("du-one").project_id
    metadata_emulator.admin("PUT", f"projects/{project_id}/usage",
                            json={"active_time_seconds": 300_000})  # 83 % of free's quota

    app = make_app(url)
    task = register_usage_job(app, lambda: None)
    with app.open():
        task.defer(timestamp=1)  # what the periodic deferrer does every 15 minutes

    def usage_jobs() -> list[str]:
        with psycopg.connect(url) as db:
            return [str(r[0]) for r in db.execute(
                "SELECT status FROM procrastinate_jobs WHERE queue_name = %s", (USAGE_QUEUE,))]

    run_worker(WorkerSettings(**settings, usage=False))  # --shards-only leaves it queued
    assert usage_jobs() == ["todo"]
    run_worker(WorkerSettings(**settings))  # the default worker runs it
    # (and its periodic deferrer may have queued the latest 15-minute tick too: also run)
    done = usage_jobs()
    assert done and set(done) == {"succeeded"}, done
    store = PostgresUsageStore(url)
    try:
        reading = store.latest()["du-one"]
        assert (reading.tier, reading.project_id) == ("free", project_id)
        assert reading.used["active_time_seconds"] == 300_000
        assert [(e.tenant, e.level) for e in store.events()] == [("du-one", "warning")]
    finally:
        store.close()
