"""Emulator API figures: per-request overhead, project create p50, 1,000 projects.

Run: `python -m benchmarks.bench_emulator_api [--projects 1000]`. Starts its own emulator
(metadata backend, rate limits off) in a temp dir and prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx

from neon_emulator.testing import EmulatorProcess


def _timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _line(name: str, samples: list[float], baseline: float | None = None, **extra: object) -> None:
    p50 = statistics.median(samples)
    p95 = sorted(samples)[max(int(len(samples) * 0.95) - 1, 0)]
    row: dict[str, object] = {"name": name, "n": len(samples), "p50_ms": round(p50, 2),
                              "p95_ms": round(p95, 2)}
    if baseline:
        row["ratio"] = round(p50 / baseline, 2)
    row.update(extra)
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    config = {"compute": "metadata", "rate_limits": {"enabled": False},
              "orgs": [{"alias": "paid", "plan": "scale_v3",
                        "limits": {"max_projects": args.projects + 1000}}]}
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(tmp, config=config) as emu:
        key = emu.credentials["orgs"]["paid"]["api_key"]
        with httpx.Client(base_url=emu.base_url, timeout=60,
                          headers={"Authorization": f"Bearer {key}"}) as c:
            health = _timed(lambda: c.get(f"{emu.root_url}/healthz").raise_for_status(),
                            args.samples)
            base = statistics.median(health)
            _line("healthz (baseline, no API stack)", health)
            _line("GET /regions (per-request overhead)",
                  _timed(lambda: c.get("/regions").raise_for_status(), args.samples), base)

            def create() -> None:
                c.post("/projects", json={"project": {}}).raise_for_status()

            _line("POST /projects (returns before its 50 ms operations)",
                  _timed(create, 100), base)
            start = time.perf_counter()
            created = _timed(create, args.projects)
            total_create = time.perf_counter() - start
            _line(f"POST /projects x{args.projects} (sequential)", created, base,
                  total_s=round(total_create, 2))
            ids: list[str] = []

            def list_all() -> None:
                ids.clear()
                cursor = None
                while True:
                    params = {"limit": 400} | ({"cursor": cursor} if cursor else {})
                    page = c.get("/projects", params=params).json()
                    if not page["projects"]:
                        break
                    ids.extend(p["id"] for p in page["projects"])
                    cursor = page["pagination"]["cursor"]

            listed = _timed(list_all, 5)
            _line(f"list all {len(ids)} projects (pages of 400)", listed, base)
            one = ids[len(ids) // 2]
            _line(f"GET /projects/{{id}} with {len(ids)} projects",
                  _timed(lambda: c.get(f"/projects/{one}").raise_for_status(), args.samples),
                  base)


if __name__ == "__main__":
    main()
