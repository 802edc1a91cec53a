"""A stack lock left on another host is judged by its worker's heartbeat, not the lease.

Two "hosts" are two `neon-tenants worker` processes in their own UTS namespaces (their own
hostnames, as the engine writes them into its lock), with their own HOME and work dir,
sharing only PostgreSQL (fleet rows, queue, Pulumi state) and the metadata emulator. The
lease is 900 s throughout: anything that converges within the test's wait did so through
the heartbeat (`automation/_backend_locks.RunHolders`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.catalog import load_catalog
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs import ShardQueue

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PASSPHRASE = "cross-host-secret"


def _locks(db: psycopg.Connection[Any]) -> list[str]:
    """The engine's stack lock keys (the state table exists after the first login)."""
    if db.execute("SELECT to_regclass('pulumi_state')").fetchone() == (None,):
        return []
    rows = db.execute("SELECT key FROM pulumi_state WHERE key LIKE '%.pulumi/locks/%'")
    return [str(r[0]) for r in rows]


def _can_unshare() -> bool:
    try:
        done = subprocess.run(["unshare", "--uts", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


if not _can_unshare():  # pragma: no cover - CI and the dev machine run as root
    pytest.skip("needs `unshare --uts` (root) to give each host its own hostname",
                allow_module_level=True)


class Hosts:
    def __init__(self, url: str, emu: Any, root: Path) -> None:
        self.url, self.emu, self.root = url, emu, root
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, name: str, **extra: str) -> dict[str, str]:
        home = self.root / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
        env.update(self.emu.client_env)
        env.update({
            "HOME": str(home),
            "NEON_TENANTS_DATABASE_URL": self.url,
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "NEON_TENANTS_WORK_DIR": str(self.root / name / "work"),
            "NEON_TENANTS_STACKS_DIR": str(self.root / name / "stacks"),
            "NEON_TENANTS_ARCHIVE": "off",
            "NEON_TENANTS_LOCK_LEASE_SECONDS": "900",
            **extra,
        })
        return env

    def start_worker(self, name: str, hostname: str) -> subprocess.Popen[bytes]:
        exe = str(Path(sys.executable).parent / "neon-tenants")
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115
        # unshare execs sh, sh execs the worker: one pid, its own hostname
        proc = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname,
             exe, "worker", "--heartbeat", "1", "--stalled-after", "4", "--recover-every", "1"],
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

    def queue(self) -> ShardQueue:
        store = PostgresFleetStore(self.url, max_size=2)
        return ShardQueue(store, self.url, load_catalog(), default_shards={"free": 1})

    def logs(self) -> str:
        return "\n".join(
            f"== {n}\n" + (self.root / f"{n}.log").read_text(errors="replace")[-3000:]
            for n in self.workers
        )


@pytest.fixture(scope="module")
def hosts(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hosts]:
    url = fresh_db()
    migrate(url)
    h = Hosts(url, metadata_emulator, tmp_path_factory.mktemp("xhosts"))
    try:
        yield h
    finally:
        h.stop()


@contextlib.contextmanager
def _engine_on_this_host(hosts: Hosts, **extra: str) -> Iterator[Any]:
    """An Engine of a third host (this test process, hostname unchanged)."""
    from neon_tenants.automation._workspace import Engine, engine_env

    env = hosts.env("judge", **extra)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # PostgreSQL state: no PULUMI_BACKEND_URL left from the session
    try:
        assert not env.get("PULUMI_BACKEND_URL")
        overrides = {**hosts.emu.client_env, **extra}
        yield Engine(Path(env["NEON_TENANTS_WORK_DIR"]), engine_env(overrides))
    finally:
        os.environ.clear()
        os.environ.update(old)


def _projects(emu: Any, prefix: str) -> list[str]:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    client = NeonClient(
        NeonCredentials.from_file(emu.credentials_file), ClientConfig(base_url=emu.base_url)
    )
    try:
        return sorted(p.name for p in client.org("free").iter_projects()
                      if p.name.startswith(prefix))
    finally:
        client.close()


def _run_holding_the_lock(hosts: Hosts, host: str, timeout: float) -> int:
    """Pid of the worker on `host` whose run holds the stack lock, once it made a project."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(hosts.url) as db:
            run = db.execute(
                "SELECT pid FROM nt_runs WHERE host = %s AND finished_at IS NULL"
                " ORDER BY id DESC LIMIT 1", (host,)).fetchone()
            locked = _locks(db)
        if run and locked and _projects(hosts.emu, "nt-xh-"):
            return int(run[0])
        time.sleep(0.2)
    raise AssertionError("no run holding the lock\n" + hosts.logs())


def test_live_holder_is_kept_and_a_killed_hosts_lock_clears_by_heartbeat(hosts: Hosts) -> None:
    ids = [f"xh-{i}" for i in range(6)]
    faults = {"faults": [{"route": "*", "latency_ms": 1000}]}  # a run long enough to watch
    hosts.emu.admin("PUT", "/_emulator/faults", faults)
    q = hosts.queue()
    try:
        hosts.start_worker("w1", "host-one")
        for tid in ids:
            q.request("free", TenantSpec(id=tid))
        pid = _run_holding_the_lock(hosts, "host-one", timeout=300)

        # live holder on another host: kept, even by a judge whose lease is 1 s
        with _engine_on_this_host(hosts, NEON_TENANTS_LOCK_LEASE_SECONDS="1") as engine:
            assert engine.lease.total_seconds() == 1 and engine.lock_store.locks()
            time.sleep(1.5)  # older than that lease: only the heartbeat can keep it
            assert engine.clear_stale_locks("free") == []
        with psycopg.connect(hosts.url) as db:
            assert _locks(db), "a live holder's lock was removed"

        os.killpg(pid, signal.SIGKILL)  # host one dies: worker, engine, providers
        hosts.workers["w1"].wait(10)
        hosts.emu.admin("PUT", "/_emulator/faults", {"faults": []})
        hosts.start_worker("w2", "host-two")
        # the lease is 900 s: being ready well before it means the heartbeat cleared the lock
        done = [q.wait(t, timeout=300) for t in ids]
    finally:
        hosts.emu.admin("PUT", "/_emulator/faults", {"faults": []})
        q.close()
        q.store.close()
    assert [d.status for d in done] == ["ready"] * len(ids), hosts.logs()
    assert _projects(hosts.emu, "nt-xh-") == sorted(f"nt-{t}" for t in ids)  # none twice
    with psycopg.connect(hosts.url) as db:
        runs = db.execute("SELECT host, outcome FROM nt_runs ORDER BY id").fetchall()
        assert not _locks(db)
    assert ("host-one", None) in runs, runs  # the killed run never finished
    assert runs[-1] == ("host-two", "ok"), runs
