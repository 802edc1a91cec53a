"""Several hosts on one database: workers run shard jobs, replicas request provisions.

Real PostgreSQL 15 (fleet store, job queue and Pulumi state), the real engine, the metadata
emulator. Each worker is a `neon-tenants worker` process with its own work dir and HOME;
the only things shared are the database and the emulator.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import InvalidRequest
from neon_tenants.catalog import load_catalog
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import TenantSpec
from tests.db._hosts import Platform, hosts
from tests.db._hosts import projects as _projects

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SHARDS = 3


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with hosts(fresh_db, metadata_emulator, tmp_path_factory, shards=SHARDS) as p:
        yield p


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


def _mates(prefix: str, shard: int, n: int) -> list[str]:
    """n tenant ids (with prefix) that all land on `shard` of the free tier."""
    from neon_tenants.fleet.sharding import shard_of

    out: list[str] = []
    i = 0
    while len(out) < n:
        tid = f"{prefix}-{i}"
        if shard_of(tid, SHARDS) == shard:
            out.append(tid)
        i += 1
    return out


def test_a_failed_tenant_does_not_block_the_others_of_its_shard(platform: Platform) -> None:
    broken, *mates = _mates("fail", 2, 4)
    q = platform.replica()
    try:
        # valid input (an id to adopt), refused by Neon only during the run: 404 on PATCH
        q.request("free", TenantSpec(id=broken, adopt_project_id="proj-does-not-exist-0000"))
        for tid in mates:
            q.request("free", TenantSpec(id=tid))
        bad = q.wait(broken, timeout=300)
        good = [q.wait(t, timeout=300) for t in mates]
    finally:
        q.close()
        q.store.close()
    assert bad.status == "failed" and bad.error, bad
    assert [g.status for g in good] == ["ready"] * len(mates)
    names = {p.name for p in _projects(platform.emu)}
    assert {f"nt-{t}" for t in mates} <= names and f"nt-{broken}" not in names


def _running_worker(platform: Platform, tier_shard: tuple[str, int], timeout: float) -> int:
    """Pid of the worker whose run of the shard is in progress and has created a project."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(platform.url) as db:
            row = db.execute(
                "SELECT pid FROM nt_runs WHERE tier = %s AND shard = %s AND finished_at IS NULL"
                " ORDER BY id DESC LIMIT 1", tier_shard,
            ).fetchone()
        if row and any(p.name.startswith("nt-crash-") for p in _projects(platform.emu)):
            return int(row[0])
        time.sleep(0.2)
    raise AssertionError("no run in progress\n" + platform.logs())


def test_kill_9_of_a_worker_mid_up_converges_on_another_host(platform: Platform) -> None:
    ids = _mates("crash", 0, 8)
    q = platform.replica()
    try:
        for tid in ids:
            q.request("free", TenantSpec(id=tid))
        pid = _running_worker(platform, ("free", 0), timeout=300)
        victim = next(n for n, p in platform.workers.items() if p.pid == pid)
        os.killpg(pid, signal.SIGKILL)  # the whole "host": worker, engine, providers
        platform.workers[victim].wait(10)
        platform.start_worker("w3")  # a replacement host; w1/w2's survivor keeps working too
        done = [q.wait(t, timeout=600) for t in ids]
    finally:
        q.close()
        q.store.close()
    assert [d.status for d in done] == ["ready"] * len(ids), platform.logs()
    crash = sorted(p.name for p in _projects(platform.emu) if p.name.startswith("nt-crash-"))
    assert crash == sorted(f"nt-{t}" for t in ids)  # no duplicate, none missing
    with psycopg.connect(platform.url) as db:
        outcomes = [r[0] for r in db.execute(
            "SELECT outcome FROM nt_runs WHERE tier = 'free' AND shard = 0 ORDER BY id")]
    assert None in outcomes, "the killed run should be left unfinished in nt_runs"
    assert outcomes[-1] == "ok"
    assert _preview_changes(platform, "free-00", 0) == {}


@contextlib.contextmanager
def _host_engine(platform: Platform, name: str) -> Iterator[Any]:
    """An Engine as on another host (its env applied to this process for the duration)."""
    from neon_tenants.automation._workspace import Engine, engine_env

    env = platform.env(name)
    old = dict(os.environ)
    os.environ.update(env)
    os.environ.pop("PULUMI_BACKEND_URL", None)
    try:
        yield Engine(Path(env["NEON_TENANTS_WORK_DIR"]), engine_env(platform.emu.client_env))
    finally:
        os.environ.clear()
        os.environ.update(old)


def _preview_changes(platform: Platform, stack: str, shard: int) -> dict[str, int]:
    """Non-`same` step counts of a preview of the shard, from a fresh host."""
    from neon_tenants.fleet.program import build_program

    store = PostgresFleetStore(platform.url, max_size=1)
    try:
        snap = store.shard_snapshot("free", shard, mark_applying=False)
    finally:
        store.close()
    with _host_engine(platform, "previewer") as engine:
        program = build_program("free", shard, snap.fleet(), load_catalog())
        result = engine.stack(stack).preview(program=program, color="never")
    return {k: v for k, v in (result.change_summary or {}).items() if k != "same"}


def _project_ids(platform: Platform, shards: int) -> dict[str, list[str]]:
    """tenant -> project ids found in the stacks' outputs (one per stack holding it)."""
    found: dict[str, list[str]] = {}
    with _host_engine(platform, "reader") as engine:
        names = set(engine.stack_names())  # read from the state table (see Engine)
        for s in range(shards):
            stack = f"free-{s:02d}"
            if stack in names:
                for tenant, value in engine.outputs(stack).items():
                    found.setdefault(tenant, []).append(value["project_id"])
    return found


def test_fleet_manager_async_api_and_cli_through_the_workers(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from neon_tenants.automation import FleetManager, TenantNotFound

    env = platform.env("backend")
    for key in ("HOME", "NEON_TENANTS_DATABASE_URL", "PULUMI_CONFIG_PASSPHRASE",
                "NEON_TENANTS_ARCHIVE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    fm = FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work",
                      neon_env=platform.emu.client_env, default_shards={"free": SHARDS})
    with fm:
        queued = fm.provision("async-one", "free", wait=False)
        assert queued.status in ("pending", "applying")
        assert fm.wait("async-one", 300).status == "ready"
        conn = fm.provision("async-one", "free")
        by_name = {p.name: p.id for p in _projects(platform.emu)}
        assert conn.project_id == by_name["nt-async-one"]
        assert fm.show("async-one").project_id == conn.project_id
        with pytest.raises(InvalidRequest):
            fm.provision("Not_A_Valid_Id", "free", wait=False)
        fm.delete("async-one")  # a queued operation, waited for
        assert "nt-async-one" not in {p.name for p in _projects(platform.emu)}
        assert fm.status("async-one").status == "deleted"
        with pytest.raises(TenantNotFound):
            fm.status("never-asked")
    assert not (tmp_path / "stacks" / "fleets").exists()  # nothing went to fleet files

    exe = str(Path(sys.executable).parent / "neon-tenants")
    cli_env = {**env, "NEON_TENANTS_STACKS_DIR": str(tmp_path / "cli" / "stacks")}
    cli_env.pop("PULUMI_BACKEND_URL", None)
    asked = subprocess.run([exe, "tenant", "provision", "cli-one", "--tier", "free",
                            "--no-wait", "--json"], env=cli_env, capture_output=True, text=True,
                           timeout=120)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert '"status": "pending"' in asked.stdout or '"status": "applying"' in asked.stdout
    shown = subprocess.run([exe, "tenant", "status", "cli-one", "--wait", "300", "--json"],
                           env=cli_env, capture_output=True, text=True, timeout=400)
    assert shown.returncode == 0 and '"status": "ready"' in shown.stdout, shown.stderr
    for done in (asked, shown):
        assert platform.url.split(":")[2].split("@")[0] not in done.stdout + done.stderr


def test_reshard_3_to_5_keeps_every_project_id_and_previews_clean(platform: Platform) -> None:
    from neon_tenants.db.reshard import _States, copy_tenant
    from neon_tenants.fleet.sharding import shard_of

    q = platform.replica()
    broken = _mates("fail", 2, 1)[0]  # the failed tenant of an earlier test: no project
    try:
        for rec in q.store.locate(broken):
            q.remove(rec.tier, rec.tenant_id)
        assert q.wait(broken, timeout=300).status == "deleted"
    finally:
        q.close()
        q.store.close()
    before = _project_ids(platform, 3)
    assert before and all(len(ids) == 1 for ids in before.values())
    # an interrupted earlier attempt: one tenant already copied to its new stack
    victim = next(t for t in sorted(before) if shard_of(t, 5) != shard_of(t, 3))
    src, dst = f"free-{shard_of(victim, 3):02d}", f"free-{shard_of(victim, 5):02d}"
    with _host_engine(platform, "crashed-resharder") as engine:
        states = _States(engine)
        assert copy_tenant(states.get(src), states.get(dst), victim, src, dst)
        states.dirty.add(dst)
        states.save()
    calls = platform.emu.admin("GET", "/_emulator/state")["requests_total"]
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = platform.env("resharder")
    env.pop("PULUMI_BACKEND_URL", None)
    done = subprocess.run([exe, "reshard", "--tier", "free", "--shards", "5", "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert platform.emu.admin("GET", "/_emulator/state")["requests_total"] == calls  # no Neon
    after = _project_ids(platform, 5)
    assert after == before  # same tenants, same project ids, each in exactly one stack
    store = PostgresFleetStore(platform.url, max_size=1)
    try:
        assert store.fleet_shape("free")[0] == 5
        assert all(shard_of(t, 5) == s for t, s in store.placements("free").items())
    finally:
        store.close()
    for s in range(5):
        assert _preview_changes(platform, f"free-{s:02d}", s) == {}, s
    again = subprocess.run([exe, "reshard", "--tier", "free", "--shards", "5", "--json"],
                           env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and '"moved": 0' in again.stdout, again.stdout + again.stderr


def test_plain_pulumi_preview_with_fleet_store_postgres_reads_the_shards_rows(
    platform: Platform, repo_root: Path, tmp_path: Path
) -> None:
    """Infra teams' `pulumi preview -s free-01` (our __main__.py through the language host)
    with stack config `neon-tenants:fleetStore: postgres` declares what the workers applied."""
    proj = tmp_path / "proj"
    (proj / "stacks").mkdir(parents=True)
    (proj / "neon_tenants").symlink_to(repo_root / "neon_tenants")
    (proj / "Pulumi.yaml").write_text(
        "name: neon-tenants\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\nmain: neon_tenants/\nstackConfigDir: stacks\n"
    )
    shutil.copy(repo_root / "stacks" / "tiers.yaml", proj / "stacks" / "tiers.yaml")
    (proj / "stacks" / "Pulumi.free-01.yaml").write_text(
        "config:\n  neon-tenants:fleetStore: postgres\n"
        "  neon-tenants:catalogFile: stacks/tiers.yaml\n"
    )
    env = platform.env("infra")
    env.pop("PULUMI_BACKEND_URL", None)
    from neon_tenants._env import pulumi_env

    env.update(pulumi_env(None, env))
    done = subprocess.run(
        ["pulumi", "preview", "-s", "free-01", "--expect-no-changes", "--color", "never"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # --expect-no-changes passed: the program declared exactly the tenants in the state
    unchanged = re.search(r"(\d+) unchanged", done.stdout)
    assert unchanged and int(unchanged.group(1)) > 1, done.stdout  # tenants, not just the stack
    assert platform.url.split(":")[2].split("@")[0] not in done.stdout + done.stderr


def test_doctor_sees_the_live_workers(platform: Platform) -> None:
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = platform.env("doctor")
    env.pop("PULUMI_BACKEND_URL", None)
    done = subprocess.run([exe, "doctor"], env=env, capture_output=True, text=True, timeout=120)
    workers = next(line for line in done.stdout.splitlines() if line[8:].startswith("workers"))
    alive = int(workers.split()[2])
    # a worker killed less than a minute ago may still count; the live ones always do
    assert workers.startswith("ok") and alive >= sum(
        1 for p in platform.workers.values() if p.poll() is None
    ), done.stdout
