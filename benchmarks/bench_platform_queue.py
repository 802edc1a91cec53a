"""The PostgreSQL mode at platform scale (issue 11): fleet load cost of both stores side by
side, enqueue latency, request-to-ready under a burst, tenants per engine run, throughput
with 1 and 2 workers, worker resident memory; and for a queued operation other than
provision (a snapshot, `--ops N`, 2 workers): enqueue latency through FleetManager
(validation included), request-to-done, and the delay of progress events from a worker's
engine to the caller that waits.

    source scripts/env.sh && .venv/bin/python -m benchmarks.bench_platform_queue [--burst 30]
    ... -m benchmarks.bench_platform_queue --only ops --ops 12   (the operations part alone)

A throwaway PostgreSQL 15 (fleet store, queue and Pulumi state), the metadata emulator, and
`neon-tenants worker` processes with their own work dirs and HOMEs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from benchmarks._fleet_harness import CONFIG, line, timed
from neon_emulator.testing import EmulatorProcess
from neon_tenants.catalog import load_catalog
from neon_tenants.db.local_server import LocalPostgres
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.spec import FleetSpec, TenantSpec, load_fleet, save_fleet
from neon_tenants.jobs import ShardQueue

SHARDS = 3


def fleet_load(root: Path, url: str, sizes: tuple[int, ...]) -> None:
    """Per-call fleet cost at each size: file store (load, save the whole tier) vs the
    PostgreSQL store (one tenant's row read/upsert; one shard's snapshot)."""
    for n in sizes:
        shards = min(max(n // 100, 1), 99)
        tenants = tuple(TenantSpec(id=f"f{i:05d}") for i in range(n))
        fleet = FleetSpec(tier="pro", shards=shards, tenants=tenants)
        path = root / f"fleet-{n}.yaml"
        save_fleet(path, fleet)
        reps = 3 if n > 5000 else 10
        load = line(f"file_store_load_fleet_{n}",
                    [timed(lambda p=path: load_fleet(p)) for _ in range(reps)])
        line(f"file_store_save_fleet_{n}",
             [timed(lambda p=path, f=fleet: save_fleet(p, f)) for _ in range(reps)])
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("DELETE FROM nt_tenants WHERE tier = 'pro'")
            db.execute("DELETE FROM nt_fleets WHERE tier = 'pro'")
        store = PostgresFleetStore(url)
        try:
            store.import_fleet(fleet)
            ids = [f"f{i:05d}" for i in range(0, n, max(n // 50, 1))]
            get = partial(store.get, "pro")

            def change(t: str, st: PostgresFleetStore = store) -> object:
                return st.request("pro", TenantSpec(id=t, protected=True))

            for name, call in (("get_tenant", get), ("request_tenant", change)):
                p50 = line(f"pg_store_{name}_{n}", [timed(lambda t=t, c=call: c(t)) for t in ids])
                _ratio(f"file_load_over_pg_{name}_{n}", load, p50)
            snap = line(
                f"pg_store_shard_snapshot_{n}",
                [timed(lambda s=s, st=store: st.shard_snapshot("pro", s, mark_applying=False))
                 for s in range(min(shards, 10))],
                shard_size=n // shards,
            )
            _ratio(f"file_load_over_pg_shard_snapshot_{n}", load, snap)
        finally:
            store.close()


def _ratio(name: str, file_ms: float, pg_ms: float) -> None:
    print(_json({"name": name, "ratio": round(file_ms / max(pg_ms, 1e-6), 1)}), flush=True)


class Workers:
    def __init__(self, root: Path, url: str, emu: Any) -> None:
        self.root, self.url, self.emu = root, url, emu
        self.procs: list[subprocess.Popen[bytes]] = []
        self.peak_rss_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def start(self, n: int) -> None:
        exe = str(Path(sys.executable).parent / "neon-tenants")
        for _ in range(n):
            home = self.root / f"w{len(self.procs)}"
            home.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
            env.update(self.emu.client_env)
            env.update({"HOME": str(home), "NEON_TENANTS_DATABASE_URL": self.url,
                        "PULUMI_CONFIG_PASSPHRASE": "bench-secret",
                        "NEON_TENANTS_WORK_DIR": str(home / "work"),
                        # this host's own checkout: no fleet files, so its tiers are postgres
                        "NEON_TENANTS_STACKS_DIR": str(home / "stacks"),
                        "NEON_TENANTS_ARCHIVE": "off"})
            log = open(home / "worker.log", "ab")  # noqa: SIM115
            self.procs.append(subprocess.Popen(
                [exe, "worker", "--heartbeat", "2"], env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            for proc in self.procs:
                self.peak_rss_kb[proc.pid] = max(self.peak_rss_kb.get(proc.pid, 0),
                                                 _tree_rss_kb(proc.pid))
            time.sleep(0.5)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        hwm = {}
        for proc in self.procs:
            hwm[proc.pid] = _status_kb(proc.pid, "VmHWM")
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        return {"worker_python_peak_kb": max(hwm.values()),
                "worker_tree_peak_kb": max(self.peak_rss_kb.values())}


def _status_kb(pid: int, field: str) -> int:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kb(pid: int) -> int:
    """RSS of a process and all its descendants (worker + engine + providers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _status_kb(p, "VmRSS")
        todo.extend(children.get(p, []))
    return total


def burst(root: Path, pg: LocalPostgres, emu: Any, workers: int, n: int, tag: str) -> None:
    """n sign-ups from 4 replica threads at once; then every tenant to ready."""
    url = pg.url
    ids = [f"{tag}-{i:03d}" for i in range(n)]
    enqueue: list[float] = []
    asked: dict[str, float] = {}
    ready_at: dict[str, float] = {}
    w = Workers(root / tag, url, emu)
    w.start(workers)
    t0 = time.monotonic()

    def replica(part: list[str]) -> None:
        q = ShardQueue(PostgresFleetStore(url, max_size=1), url, load_catalog(),
                       default_shards={"free": SHARDS})
        try:
            for tid in part:
                asked[tid] = time.monotonic()
                enqueue.append(timed(lambda t=tid: q.request("free", TenantSpec(id=t))))
        finally:
            q.close()
            q.store.close()

    threads = [threading.Thread(target=replica, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = PostgresFleetStore(url, max_size=1)
    try:
        while len(ready_at) < n:
            for tid in ids:
                if tid not in ready_at:
                    rec = store.get("free", tid)
                    if rec is not None and rec.status in ("ready", "failed"):
                        ready_at[tid] = time.monotonic()
            time.sleep(0.2)
            if time.monotonic() - t0 > 1800:
                raise SystemExit("burst did not finish in 30 min")
    finally:
        store.close()
    elapsed = time.monotonic() - t0
    memory = w.stop()
    with psycopg.connect(url) as db:
        runs = db.execute("SELECT count(*), sum(tenants) FROM nt_runs WHERE outcome = 'ok'"
                          " AND started_at >= now() - make_interval(secs => %s)",
                          (elapsed + 5,)).fetchone()
    line(f"enqueue_latency_{tag}", enqueue)
    line(f"request_to_ready_{tag}", [(ready_at[t] - asked[t]) * 1000 for t in ids],
         workers=workers, burst=n)
    print(_json({"name": f"throughput_{tag}", "workers": workers, "burst": n,
                 "tenants_per_minute": round(n / elapsed * 60, 1),
                 "engine_runs": runs[0], "tenants_per_run": round(n / max(runs[0], 1), 1),
                 **memory}), flush=True)


def operations(root: Path, pg: LocalPostgres, emu: Any, n: int) -> None:
    """n tenants provisioned, then one snapshot each queued at once through FleetManager
    (wait=False) and followed: enqueue latency, request-to-done (the operation's own
    created/finished times), and event delay (the event row's time to its delivery)."""
    from neon_tenants.automation import FleetManager
    from neon_tenants.automation.events import ProgressEvent

    url = pg.url
    home = root / "ops-backend"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({"HOME": str(home), "NEON_TENANTS_DATABASE_URL": url,
                       "PULUMI_CONFIG_PASSPHRASE": "bench-secret",
                       "NEON_TENANTS_ARCHIVE": "off"})
    os.environ.pop("PULUMI_BACKEND_URL", None)
    w = Workers(root / "ops", url, emu)
    w.start(2)
    ids = [f"op-{i:03d}" for i in range(n)]
    received: list[tuple[ProgressEvent, float]] = []
    try:
        with FleetManager(home / "stacks", work_dir=home / "work", neon_env=emu.client_env,
                          default_shards={"free": SHARDS},
                          on_event=lambda e: received.append((e, time.time()))) as fm:
            for tid in ids:
                fm.provision(tid, "free", wait=False)
            for tid in ids:
                fm.wait(tid, 1800)
            enqueue: list[float] = []
            ops: list[int] = []
            for tid in ids:
                started = time.monotonic()
                st = fm.snapshot(tid, "bench", wait=False)
                enqueue.append((time.monotonic() - started) * 1000)
                assert st.operation is not None
                ops.append(st.operation)
            delays: list[float] = []
            queue = fm.queue
            assert queue is not None
            for op in ops:
                received.clear()
                following = time.time()
                done = queue.follow(op, 1800)
                assert done.status == "done", done
                with psycopg.connect(url) as db:
                    sent = [float(r[0]) for r in db.execute(
                        "SELECT extract(epoch FROM at) FROM nt_events WHERE operation_id = %s"
                        " ORDER BY id", (op,))]
                # only events written while the caller was already waiting: their delay is
                # the wake-up (NOTIFY) plus the read, not time spent before it asked
                delays += [(at - s) * 1000 for (_, at), s in zip(received, sent, strict=False)
                           if s >= following]
    finally:
        w.stop()
    with psycopg.connect(url) as db:
        spans = [float(r[0]) * 1000 for r in db.execute(
            "SELECT extract(epoch FROM finished_at - created_at) FROM nt_operations"
            " WHERE id = ANY(%s)", (ops,))]
        # engine runs that carried these operations (a batch is one run for several)
        outcomes = [str(r[0]) for r in db.execute(
            "SELECT outcome FROM nt_runs WHERE outcome LIKE 'operation%%'")]
    ran = [o for o in outcomes
           if {int(i) for i in o.split(":")[0].split()[1].split(",")} & set(ops)]
    line("op_enqueue_latency_snapshot", enqueue, workers=2)
    line("op_request_to_done_snapshot", spans, workers=2, shards=SHARDS,
         engine_runs=len(ran), operations=len(ops))
    line("op_event_delay_worker_to_caller", delays or [0.0], events=len(delays))


def _json(row: dict[str, object]) -> str:
    import json

    return json.dumps(row)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--sizes", default="1000,30000")
    parser.add_argument("--ops", type=int, default=12, help="tenants for the operations part")
    parser.add_argument("--only", choices=["all", "ops"], default="all")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-platform-"))
    with LocalPostgres() as pg, EmulatorProcess(root / "emu", config=CONFIG) as emu:
        migrate(pg.url)
        if args.only == "all":
            fleet_load(root, pg.url, tuple(int(s) for s in args.sizes.split(",")))
            burst(root, pg, emu, 1, args.burst, "w1")
            burst(root, pg, emu, 2, args.burst, "w2")
        operations(root, pg, emu, args.ops)


if __name__ == "__main__":
    main()
