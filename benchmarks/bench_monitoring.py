"""Monitoring figures: report cost per tenant, alert evaluation, billing export.

Run: `python -m benchmarks.bench_monitoring [--projects 100]`. Starts its own emulator
(metadata backend, rate limits off) in a temp dir and prints one JSON line per figure.
The baseline for the report is the bare `iter_projects` listing measured in the same run:
the ratio shows what the per-project `get_project` (+ branch list) calls cost on top.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable

from neon_emulator.testing import EmulatorProcess
from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, ProjectCreate
from neon_tenants.client.models.projects import Project
from neon_tenants.monitoring import (
    collect_usage,
    evaluate,
    iter_billing_rows,
    usage_from_project,
    write_csv,
)


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _line(name: str, samples: list[float], baseline: float | None = None, **extra: object) -> None:
    ordered = sorted(samples)
    p50 = statistics.median(samples)
    row: dict[str, object] = {
        "name": name,
        "n": len(samples),
        "p50_ms": round(p50, 2),
        "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 2),
    }
    if baseline:
        row["ratio"] = round(p50 / baseline, 2)
    row.update(extra)
    print(json.dumps(row), flush=True)


def _synthetic(n: int) -> list[Project]:
    return [
        Project.model_validate({
            "id": f"p-{i}", "name": f"nt-t{i}", "active_time_seconds": i * 97 % 400_000,
            "written_data_bytes": i * 7919 % 10**9,
            "settings": {"quota": {"active_time_seconds": 360_000, "written_data_bytes": 10**9}},
        })
        for i in range(n)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = {"compute": "metadata", "op_duration_ms": 5, "rate_limits": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(tmp, config=config) as emu:
        creds = NeonCredentials.from_file(emu.credentials_file)
        cfg = ClientConfig(base_url=emu.base_url, rate_limit_enabled=False)
        with NeonClient(creds, cfg) as client:
            org = client.org("paid")
            for i in range(args.projects):
                org.create_project(ProjectCreate(name=f"nt-bench-{i:04d}"))
            n = args.projects
            listing = _timed(lambda: list(org.iter_projects()), args.repeat)
            _line("list_projects", listing, projects=n)
            base = statistics.median(listing)
            fast = _timed(lambda: collect_usage(org, branch_sizes=False), args.repeat)
            _line("report_no_branch_sizes", fast, base, projects=n,
                  per_project_ms=round(statistics.median(fast) / n, 2))  # fmt: skip
            full = _timed(lambda: collect_usage(org), args.repeat)
            _line("report_with_branch_sizes", full, base, projects=n,
                  per_project_ms=round(statistics.median(full) / n, 2))  # fmt: skip
            now = emu.admin("GET", "state")["now"]
            start = now[:11] + "00:00:00Z"

            def export() -> int:
                rows = iter_billing_rows(org, start, now, "hourly", ["compute_unit_seconds"])
                return write_csv(rows, io.StringIO())

            _line("billing_export_csv", _timed(export, args.repeat), projects=n, rows=export())
    usages = [usage_from_project(p, "free") for p in _synthetic(10_000)]
    alerts = evaluate(usages)
    _line("evaluate_10k_tenants", _timed(lambda: evaluate(usages), args.repeat),
          alerts=len(alerts))  # fmt: skip


if __name__ == "__main__":
    main()
