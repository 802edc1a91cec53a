"""Stale engine stack locks (issue 14): cleared before the next run when the holder is dead,
never while it lives.

The judging tests use real processes and real lock files in the engine's layout; the last
test is the issue's case through the real engine: `kill -9` of the process group running a
20-tenant shard `up`, then a plain rerun converges.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from neon_tenants.automation import FleetManager, ShardBusy, StackProgress
from neon_tenants.automation._backend_locks import (
    FileLockStore,
    LeaseKeeper,
    clear_stale,
    lock_store,
    process_alive,
    verdict,
)
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from .conftest import Recorder, make_manager, neon_client

HOST = socket.gethostname()


def write_lock(
    root: Path,
    stack: str,
    *,
    pid: int,
    host: str = HOST,
    taken: datetime | None = None,
    project: str = "neon-tenants",
    lock_id: str = "0f3c9a1e-7d2b-4c55-9e61-5b8f1d2a3c4e",
) -> Path:
    """A lock exactly as pkg/backend/diy/lock.go writes it (Go's RFC 3339 with nanoseconds)."""
    moment = taken or datetime.now(UTC)
    path = root / ".pulumi" / "locks" / "organization" / project / stack / f"{lock_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123+00:00"
    path.write_text(
        json.dumps({"pid": pid, "username": "root", "hostname": host, "timestamp": stamp})
    )
    return path


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "120"])
    time.sleep(0.05)
    yield proc
    proc.kill()
    proc.wait()


def test_lock_of_a_live_process_on_this_host_is_kept(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = write_lock(tmp_path, "free", pid=sleeper.pid)
    store = FileLockStore(tmp_path)
    (lock,) = store.locks()
    assert (lock.stack, lock.project, lock.pid) == ("free", "neon-tenants", sleeper.pid)
    assert verdict(lock) == "alive"
    assert clear_stale(store, "free") == []
    assert path.exists()


def test_lock_of_a_killed_process_on_this_host_is_cleared(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = write_lock(tmp_path, "free", pid=sleeper.pid)
    other = write_lock(tmp_path, "pro", pid=sleeper.pid)
    sleeper.kill()
    sleeper.wait()
    store = FileLockStore(tmp_path)
    cleared = clear_stale(store, "free")
    assert [c.stack for c in cleared] == ["free"]
    assert not path.exists()
    assert other.exists(), "only the stack about to run is cleared"


def test_zombie_holder_counts_as_dead(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "120"])
    proc.send_signal(signal.SIGKILL)
    time.sleep(0.2)  # killed, not reaped yet: a zombie
    try:
        assert not process_alive(proc.pid)
    finally:
        proc.wait()


def test_reused_pid_does_not_keep_a_dead_holders_lock(tmp_path: Path) -> None:
    """Our own pid is alive, but this process started after the lock was taken."""
    write_lock(tmp_path, "free", pid=os.getpid(), taken=datetime.now(UTC) - timedelta(days=3))
    (lock,) = FileLockStore(tmp_path).locks()
    assert verdict(lock) == "dead"


def test_other_host_lock_is_kept_within_its_lease_and_cleared_after(tmp_path: Path) -> None:
    lease = timedelta(seconds=60)
    fresh = write_lock(tmp_path, "free", pid=1, host="ci-runner-7", lock_id="a")
    old = write_lock(
        tmp_path,
        "pro",
        pid=1,
        host="ci-runner-7",
        taken=datetime.now(UTC) - timedelta(minutes=5),
        lock_id="b",
    )
    os.utime(old, (time.time() - 300, time.time() - 300))
    store = FileLockStore(tmp_path)
    verdicts = {lock.stack: verdict(lock, lease=lease) for lock in store.locks()}
    assert verdicts == {"free": "leased", "pro": "expired"}
    assert [c.stack for c in clear_stale(store, lease=lease)] == ["pro"]
    assert fresh.exists() and not old.exists()


def test_renewed_lease_keeps_an_old_other_host_lock(tmp_path: Path) -> None:
    """A long run on another host: its lock is old, but its host renewed it recently."""
    lease = timedelta(seconds=60)
    taken = datetime.now(UTC) - timedelta(hours=2)
    write_lock(tmp_path, "free", pid=1, host="ci-runner-7", taken=taken)
    (lock,) = FileLockStore(tmp_path).locks()
    assert verdict(lock, lease=lease) == "leased"  # the file's mtime is now: renewed


def test_lease_keeper_renews_only_live_local_locks(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    long_ago = time.time() - 3600
    live = write_lock(tmp_path, "free", pid=sleeper.pid, lock_id="live")
    foreign = write_lock(tmp_path, "pro", pid=sleeper.pid, host="elsewhere", lock_id="far")
    for path in (live, foreign):
        os.utime(path, (long_ago, long_ago))
    renewed = LeaseKeeper(FileLockStore(tmp_path)).renew_once()
    assert [r.stack for r in renewed] == ["free"]
    assert live.stat().st_mtime > long_ago + 3000
    assert foreign.stat().st_mtime == pytest.approx(long_ago, abs=1)


def test_lock_store_reads_the_backend_url(tmp_path: Path) -> None:
    assert isinstance(lock_store(f"file://{tmp_path}"), FileLockStore)
    pg = lock_store("postgres://nt@127.0.0.1:5432/state?table=pulumi_state&sslmode=disable")
    assert pg is not None and getattr(pg, "table", None) == "pulumi_state"
    assert getattr(pg, "prefix", None) == "state/"  # the engine prefixes keys with the db
    assert lock_store("https://api.pulumi.com") is None


# -- through the real engine --------------------------------------------------------------

_UP_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from neon_tenants.automation import FleetManager
    root, backend, env = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    fm = FleetManager(root / "stacks", work_dir=root / "work", backend_url=backend,
                      lock_dir=root / "locks", neon_env=env)
    fm.up("free")
    """
)


def _projects(client: Any, prefix: str) -> list[str]:
    return [p.name for p in client.org("free").iter_projects() if p.name.startswith(prefix)]


def _kill_9_mid_up_then_rerun(
    root: Path, emu: Any, tenants: list[str], *, backend_url: str, extra_env: dict[str, str]
) -> None:
    """The issue's case: kill -9 the process group running a shard `up` once its lock is
    taken and some projects exist; then a plain rerun must converge, no ShardBusy."""
    recorder = Recorder()
    neon_env = {**emu.client_env, **extra_env}
    fm = FleetManager(
        root / "stacks",
        work_dir=root / "work",
        backend_url=backend_url,
        lock_dir=root / "locks",
        neon_env=neon_env,
        on_event=recorder,
    )
    save_fleet(
        fm.fleet_path("free"),
        FleetSpec(tier="free", shards=1, tenants=tuple(TenantSpec(id=t) for t in tenants)),
    )
    locks = fm.engine.lock_store
    assert locks is not None
    prefix = f"nt-{tenants[0][:3]}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _UP_SCRIPT, str(root), backend_url, json.dumps(neon_env)],
        env={**os.environ, **fm.engine.env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with neon_client(emu) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if locks.locks() and len(_projects(client, prefix)) >= len(tenants) // 4:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the up ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        (left,) = locks.locks()
        assert left.stack == "free"
        gone = time.monotonic() + 10  # SIGKILL of the engine (another process) lands async
        while verdict(left) != "dead" and time.monotonic() < gone:
            time.sleep(0.05)
        assert verdict(left) == "dead"
        assert len(_projects(client, prefix)) < len(tenants), "killed mid-run"

        assert fm.up("free") == ["free"]  # no ShardBusy: the dead holder's lock is cleared
        cleared = [
            e
            for e in recorder.events
            if isinstance(e, StackProgress) and e.phase == "stale_lock_cleared"
        ]
        assert [e.stack for e in cleared] == ["free"]
        assert str(left.pid) in cleared[0].message
        names = _projects(client, prefix)
        assert sorted(names) == sorted(f"nt-{t}" for t in tenants), "no duplicate, none lost"
    assert locks.locks() == []
    assert sorted(fm.connections("free")) == tenants
    fm.close()


@pytest.mark.engine
@pytest.mark.slow
def test_kill_9_during_20_tenant_shard_up_then_rerun_converges(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("stale-lock")
    _kill_9_mid_up_then_rerun(
        root,
        metadata_emulator,
        [f"lk-{i:02d}" for i in range(20)],
        backend_url=f"file://{root / 'state'}",
        extra_env={},
    )


@pytest.mark.engine
@pytest.mark.postgres
@pytest.mark.slow
def test_kill_9_with_state_in_postgresql_then_rerun_converges(
    metadata_emulator: Any, emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """PostgreSQL mode: the engine's DIY postgres:// backend keeps the lock as a row; the
    state database here is a real PostgreSQL 15 (a project of the Postgres emulator)."""
    from neon_tenants.client.models.projects import ProjectCreate

    with neon_client(emulator) as client:
        created = client.org("paid").create_project(ProjectCreate(name="f-pulumi-state"))
    uri = urlsplit(created.connection_uris[0].connection_uri.get_secret_value())
    password = uri.password or ""
    backend = (
        f"postgres://{uri.username}@{uri.hostname}:{uri.port}{uri.path}"
        "?sslmode=disable&table=pulumi_state"
    )
    root = tmp_path_factory.mktemp("stale-lock-pg")
    _kill_9_mid_up_then_rerun(
        root,
        metadata_emulator,
        [f"pk-{i:02d}" for i in range(8)],
        backend_url=backend,
        # a shared backend refuses the built-in passphrase (#11): a test's own secret
        extra_env={"PGPASSWORD": password, "PULUMI_CONFIG_PASSPHRASE": "f-stale-lock-test"},
    )


@pytest.mark.engine
def test_live_holders_lock_is_never_touched(
    metadata_emulator: Any,
    tmp_path_factory: pytest.TempPathFactory,
    sleeper: subprocess.Popen[bytes],
) -> None:
    root = tmp_path_factory.mktemp("live-lock")
    with make_manager(root, metadata_emulator, Recorder()) as fm:
        save_fleet(
            fm.fleet_path("free"),
            FleetSpec(tier="free", shards=1, tenants=(TenantSpec(id="lv-00"),)),
        )
        fm.engine.stack("free")  # the stack exists; now a live process on this host holds it
        path = write_lock(root / "state", "free", pid=sleeper.pid)
        with pytest.raises(ShardBusy) as err:
            fm.up("free")
        assert "retry" in str(err.value)
        assert path.exists()


@pytest.mark.engine
def test_torn_checkpoint_sidecar_left_by_a_kill_is_repaired(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The chaos matrix's find: a SIGKILL while fileblob writes `<stack>.json.attrs` in place
    leaves it empty and every later run fails with "failed to load checkpoint: EOF"."""
    root = tmp_path_factory.mktemp("torn-sidecar")
    with make_manager(root, metadata_emulator, Recorder()) as fm:
        save_fleet(
            fm.fleet_path("free"),
            FleetSpec(tier="free", shards=1, tenants=(TenantSpec(id="ts-00"),)),
        )
        fm.up("free")
        sidecar = root / "state" / ".pulumi" / "stacks" / "neon-tenants" / "free.json.attrs"
        assert json.loads(sidecar.read_text())  # the engine writes one
        sidecar.write_bytes(b"")  # what os.Create + SIGKILL leaves
        assert fm.up("free") == ["free"]
        assert sorted(fm.connections("free")) == ["ts-00"]
