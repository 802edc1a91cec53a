"""Real-PostgreSQL compute backend: branch create, point-in-time restore, cold start.

Run: ``python -m benchmarks.bench_pg_compute [--n 5] [--scratch /dev/shm]``. Prints one
JSON line per figure (name, n, p50, p95, max in seconds). ``--scratch`` picks where the
data dir lives (default: the system temp dir, i.e. the disk).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from neon_emulator.compute.backend import (
    BranchSource,
    EndpointAddress,
    EndpointSpec,
    RoleSpec,
)
from neon_emulator.compute.postgres import PostgresBackend

OWNER = RoleSpec("neondb_owner", "bench-Pw-1")
_seq = iter(range(1, 60000))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _endpoint(be: PostgresBackend, project: str, branch: str) -> EndpointSpec:
    n = next(_seq)
    spec = EndpointSpec(
        endpoint_id=f"ep-{n}", branch_id=branch,
        address=EndpointAddress(f"127.1.{n // 256}.{n % 256}", f"127.2.{n // 256}.{n % 256}",
                                be.endpoint_port),
        suspend_timeout_seconds=-1, roles=[OWNER],
    )
    be.register_endpoint(project, spec)
    return spec


def _connect(spec: EndpointSpec, *, tls: bool = False, pooled: bool = False
             ) -> psycopg.Connection:
    """sslmode=disable (plain pipe), or the URIs' sslmode=require&channel_binding=require."""
    ssl = {"sslmode": "require", "channel_binding": "require"} if tls else {"sslmode": "disable"}
    host = spec.address.pooler_host if pooled else spec.address.host
    return psycopg.connect(host=host, port=spec.address.port, user=OWNER.name,
                           password=OWNER.password, dbname="neondb", autocommit=True,
                           prepare_threshold=None, **ssl)


def _report(name: str, samples: list[float], **extra: object) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(json.dumps({"name": name, "n": len(samples), "p50": round(statistics.median(ordered), 3),
                      "p95": round(p95, 3), "max": round(ordered[-1], 3), **extra}))


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _project(
    be: PostgresBackend, project: str, mb: int, *, backup: bool = False
) -> tuple[EndpointSpec, datetime]:
    be.create_branch(project, "br-main", source=BranchSource(), roles=[OWNER],
                     databases=[("neondb", "neondb_owner")], pg_version=15)
    spec = _endpoint(be, project, "br-main")
    with _connect(spec) as conn:
        conn.execute("CREATE TABLE t (id int, pad text)")
        if mb:
            rows = mb * 1024 * 1024 // 1100
            conn.execute("INSERT INTO t SELECT g, repeat('x', 1000) FROM generate_series(1, %s) g",
                         (rows,))
        if backup:  # what the monitor does after backup_every_bytes of WAL
            br = be.branch(project, "br-main")
            with br.lock:
                be.maybe_backup(br)
            time.sleep(0.01)
        point = datetime.now(UTC)
        time.sleep(0.01)
        conn.execute("INSERT INTO t VALUES (-1, 'after the point')")
    return spec, point


def _branch_figures(be: PostgresBackend, n: int, mb: int, backup: bool = False) -> None:
    suffix = "_recent_backup" if backup else ""
    project = f"p-{mb}mb{suffix}"
    _, point = _project(be, project, mb, backup=backup)

    def head(i: int) -> None:
        be.create_branch(project, f"br-head-{i}", source=BranchSource(branch_id="br-main"),
                         roles=[OWNER], databases=[], pg_version=15)

    def pitr(i: int) -> None:
        be.create_branch(project, f"br-pitr-{i}",
                         source=BranchSource(branch_id="br-main", timestamp=point),
                         roles=[OWNER], databases=[], pg_version=15)

    def restore(_: int) -> None:
        be.restore_branch(project, "br-head-0",
                          source=BranchSource(branch_id="br-main", timestamp=point),
                          preserve_as_branch_id=None)

    for name, fn in (("branch_create_head", head), ("branch_create_pitr", pitr),
                     ("restore_in_place_pitr", restore)):
        _report(f"{name}_{mb}mb{suffix}", [_time(lambda i=i, f=fn: f(i)) for i in range(n)])  # type: ignore[misc]
    for i in range(n):
        be.delete_branch(project, f"br-head-{i}")
        be.delete_branch(project, f"br-pitr-{i}")


def _pss_mb(be: PostgresBackend) -> float:
    """Proportional set size of the running postmasters and their children (shared
    memory counted once), in MB."""
    pids = set(be.running_pids())
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(proc.name) not in pids and ppid not in pids:
                continue
            for line in (proc / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024 / max(1, len(pids))


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 / 1024


def _connect_figures(spec: EndpointSpec, n: int) -> None:
    """Warm connects, plain vs TLS + SCRAM-SHA-256-PLUS (#15), direct and pooled, measured
    interleaved in one run so the ratio compares like with like."""
    for pooled in (False, True):
        _connect(spec, pooled=pooled).close()  # start the pooler outside the samples
        plain: list[float] = []
        tls: list[float] = []
        for _ in range(n):
            plain.append(_time(lambda p=pooled: _connect(spec, pooled=p).close()))  # type: ignore[misc]
            tls.append(_time(lambda p=pooled: _connect(spec, tls=True, pooled=p).close()))  # type: ignore[misc]
        kind = "pooled" if pooled else "direct"
        _report(f"warm_connect_{kind}_plain", plain)
        _report(f"warm_connect_{kind}_tls_channel_binding", tls,
                ratio_to_plain=round(statistics.median(tls) / statistics.median(plain), 2))


def run(n: int, scratch: str | None, connect_only: bool = False) -> None:
    root = Path(tempfile.mkdtemp(prefix="nemu-bench-", dir=scratch))
    be = PostgresBackend(root / "compute", endpoint_port=_port())
    try:
        _report("initdb_template", [_time(lambda: be.layout.ensure_template(15))])
        if connect_only:
            spec, _ = _project(be, "p-connect", 0)
            _connect_figures(spec, n)
            return
        root_first_start = []
        for i in range(n):
            project = f"p-empty-{i}"
            be.create_branch(project, "br-main", source=BranchSource(), roles=[OWNER],
                             databases=[("neondb", "neondb_owner")], pg_version=15)
            spec = _endpoint(be, project, "br-main")
            root_first_start.append(_time(lambda s=spec: _connect(s).close()))
        _report("root_branch_first_connect", root_first_start)

        for mb in (0, 100):
            _branch_figures(be, n, mb)
        _branch_figures(be, n, 100, backup=True)

        spec, _ = _project(be, "p-cold", 0)
        cold = []
        for _ in range(n):
            be.suspend_endpoint("p-cold", spec.endpoint_id)

            def first_query() -> None:
                with _connect(spec) as conn:
                    conn.execute("SELECT 1").fetchone()

            cold.append(_time(first_query))
        _report("cold_start_connect_to_first_query", cold)
        warm = [_time(lambda: _connect(spec).close()) for _ in range(n)]
        _report("warm_connect", warm)
        _connect_figures(spec, n)
        time.sleep(1)
        print(json.dumps({"name": "idle_cluster_pss_mb", "value": round(_pss_mb(be), 1)}))
        be.suspend_endpoint("p-cold", spec.endpoint_id)
        print(json.dumps({"name": "stopped_branch_disk_mb", "value": round(
            _du_mb(be.layout.branch("p-cold", "br-main")), 1)}))
    finally:
        be.shutdown()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--scratch", default=None, help="parent dir of the data dir")
    parser.add_argument("--connect-only", action="store_true",
                        help="only the warm-connect figures (plain vs TLS, direct and pooled)")
    args = parser.parse_args()
    run(args.n, args.scratch, args.connect_only)


if __name__ == "__main__":
    main()
