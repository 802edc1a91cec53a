"""Several hosts on one database: workers run shard jobs, replicas request provisions.

Real PostgreSQL 15 (fleet store, job queue and Pulumi state), the real engine, the metadata
emulator. Each worker is a `neon-tenants worker` process with its own work dir and HOME;
the only things shared are the database and the emulator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import InvalidRequest
from neon_tenants.catalog import load_catalog
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.queue import ShardQueue

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PASSPHRASE = "queue-test-secret"
SHARDS = 3


class Platform:
    def __init__(self, url: str, emu: Any, root: Path) -> None:
        self.url, self.emu, self.root = url, emu, root
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, name: str) -> dict[str, str]:
        home = self.root / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
        env.update(self.emu.client_env)
        env.update({
            "HOME": str(home),
            "NEON_TENANTS_DATABASE_URL": self.url,
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "NEON_TENANTS_WORK_DIR": str(self.root / name / "work"),
            "NEON_TENANTS_ARCHIVE": "off",  # the metadata emulator has no database to dump
        })
        return env

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        exe = str(Path(sys.executable).parent / "neon-tenants")
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [exe, "worker", "--heartbeat", "1", "--stalled-after", "4", "--recover-every", "1"],
            env=self.env(name), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.workers[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def replica(self) -> ShardQueue:
        store = PostgresFleetStore(self.url, max_size=2)
        return ShardQueue(store, self.url, load_catalog(), default_shards={"free": SHARDS})

    def logs(self) -> str:
        return "\n".join(
            f"== {n}\n" + (self.root / f"{n}.log").read_text(errors="replace")[-3000:]
            for n in self.workers
        )


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    url = fresh_db()
    migrate(url)
    p = Platform(url, metadata_emulator, tmp_path_factory.mktemp("hosts"))
    p.start_worker("w1")
    p.start_worker("w2")
    try:
        yield p
    finally:
        p.stop()


def _projects(emu: Any) -> list[Any]:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    client = NeonClient(
        NeonCredentials.from_file(emu.credentials_file), ClientConfig(base_url=emu.base_url)
    )
    try:
        return list(client.org("free").iter_projects())
    finally:
        client.close()


def test_four_replicas_sixty_provisions_three_shards_batched(platform: Platform) -> None:
    ids = [f"burst-{i:02d}" for i in range(60)]
    errors: list[BaseException] = []

    def replica(part: list[str]) -> None:
        q = platform.replica()
        try:
            for tid in part:
                status = q.request("free", TenantSpec(id=tid))
                assert status.status in ("pending", "applying")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            q.close()
            q.store.close()

    threads = [threading.Thread(target=replica, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    q = platform.replica()
    try:
        for tid in ids:
            done = q.wait(tid, timeout=900)
            assert done.status == "ready", (done, platform.logs())
    finally:
        q.close()
        q.store.close()
    names = sorted(p.name for p in _projects(platform.emu) if p.name.startswith("nt-burst-"))
    assert names == sorted(f"nt-{t}" for t in ids)  # exactly 60, none twice
    with psycopg.connect(platform.url) as db:
        runs = db.execute("SELECT count(*) FROM nt_runs WHERE outcome = 'ok'").fetchone()[0]
        shards = db.execute("SELECT count(DISTINCT shard) FROM nt_tenants").fetchone()[0]
    assert shards == SHARDS
    assert runs < 20, f"{runs} engine runs for 60 tenants: requests did not batch"


def test_bad_input_is_refused_before_anything_is_queued(platform: Platform) -> None:
    q = platform.replica()
    try:
        with psycopg.connect(platform.url) as db:
            before = db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()[0]
        with pytest.raises(InvalidRequest) as info:
            q.request(
                "free", TenantSpec(id="bad-quota", quota_overrides={"active_time_seconds": 10**9})
            )
        assert info.value.http_status == 422 and "active_time_seconds" in str(info.value)
        with pytest.raises(InvalidRequest):
            q.request("platinum", TenantSpec(id="bad-tier"))
        with psycopg.connect(platform.url) as db:
            after = db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()[0]
            rows = db.execute(
                "SELECT count(*) FROM nt_tenants WHERE tenant_id LIKE 'bad-%'").fetchone()[0]
        assert (after, rows) == (before, 0)
    finally:
        q.close()
        q.store.close()
