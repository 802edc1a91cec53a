"""The usage poller over 30,000 metadata tenants: requests per cycle by route, consumption
rate, cycle duration, memory.

Run: `python -m benchmarks.bench_usage_poller [--tenants 30000] [--paid-share 0.67]
[--near 0.01] [--cycles 2] [--real-time]`.

How: an emulator with the metadata backend (no computes; its server-side rate limit off, the
client keeps its own 700/min), 30,000 projects seeded with `POST /_emulator/seed_projects`
(records written straight into the emulator's world: 30,000 API creates behind a 700/min key
would take 43 minutes), each tier's quota applied; `--near` of them get counters at 85-99 %
of a quota through `PUT /_emulator/usage`. The free org's plan is not served by consumption
v2 (403), so free tenants exercise the fallback.

Time: by default the poller's budgets (30 consumption requests/min, 300 per-project
reads/min) and the client's 700/min limiter run on a virtual clock that advances by each
wait instead of sleeping it, so a 10-minute cycle schedule is measured in about a minute of
real work; `scheduled_s` is that timeline (wall work + paced waits), `wall_s` the real part.
`--real-time` sleeps for real. The consumption rate is checked on the requests' own stamps
(max in any 60-second window) and against the emulator's own request counters.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from neon_emulator.testing import EmulatorProcess
from neon_tenants.catalog import load_catalog
from neon_tenants.client import NeonCredentials
from neon_tenants.monitoring import (
    AlertRules,
    CallbackSink,
    Dispatcher,
    Event,
    FileUsageStore,
    Poller,
    PollerConfig,
    TenantRef,
    UsageService,
    make_client,
    static_directory,
)
from neon_tenants.monitoring._transport import RateBudget
from neon_tenants.monitoring.poller import Pacing


class VirtualClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += max(seconds, 0.0)


class StampedBudget(RateBudget):
    """Records when each acquisition was granted (the budget's own stamp, so the check sees
    exactly what the budget decided, not the time this line runs)."""

    stamps: list[float]

    def acquire(self) -> None:
        super().acquire()
        self.stamps.append(self._times[-1])


def _line(name: str, **values: Any) -> None:
    print(json.dumps({"name": name, **values}), flush=True)


def seed(emu: EmulatorProcess, tenants: int, paid_share: float, near: float,
         rng: random.Random) -> list[TenantRef]:  # fmt: skip
    catalog = load_catalog()
    paid = int(tenants * paid_share)
    plan = [("free", "free", tenants - paid), ("paid", "pro", paid)]
    refs: list[TenantRef] = []
    started = time.perf_counter()
    for org, tier, count in plan:
        quota = {k: v for k, v in catalog.tier(tier).quota.model_dump().items() if v}
        out = emu.admin("POST", "seed_projects", json={"org": org, "count": count,
                                                       "name_prefix": tier, "quota": quota})
        refs += [TenantRef(tenant=f"{tier}-{i:05d}", tier=tier, project_id=p, org=org)
                 for i, p in enumerate(out["project_ids"])]  # fmt: skip
    seeded = time.perf_counter() - started
    usage: dict[str, dict[str, int]] = {}
    for ref in rng.sample(refs, int(len(refs) * near)):
        quota = catalog.tier(ref.tier).quota
        usage[ref.project_id] = {"active_time_seconds": int(quota.active_time_seconds
                                                            * rng.uniform(0.85, 0.99))}
    for ref in rng.sample(refs, len(refs) // 10):  # some ordinary activity elsewhere
        usage.setdefault(ref.project_id, {"active_time_seconds": rng.randint(0, 3600)})
    emu.admin("PUT", "usage", json={"projects": usage})
    _line("seed", tenants=len(refs), paid=paid, near_threshold=int(len(refs) * near),
          seed_s=round(seeded, 2), how="POST /_emulator/seed_projects + PUT /_emulator/usage")
    return refs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=30_000)
    parser.add_argument("--paid-share", type=float, default=0.67)
    parser.add_argument("--near", type=float, default=0.01)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--real-time", action="store_true")
    args = parser.parse_args()
    rng = random.Random(13)
    config = {"compute": "metadata", "rate_limits": {"enabled": False}}
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(Path(tmp) / "emu",
                                                               config=config) as emu:
        refs = seed(emu, args.tenants, args.paid_share, args.near, rng)
        cfg = PollerConfig()
        clock = VirtualClock()
        pacing = Pacing(cfg) if args.real_time else Pacing(cfg, clock=clock, sleep=clock.sleep)
        stamped = StampedBudget(cfg.consumption_per_minute, clock=pacing.clock,
                                sleep=(time.sleep if args.real_time else clock.sleep))
        stamped.stamps = []
        pacing.consumption = stamped
        creds = NeonCredentials.from_file(emu.credentials_file)
        client, transport = make_client(creds, emu.base_url, pacing,
                                        sleep=time.sleep if args.real_time else clock.sleep)
        store = FileUsageStore(Path(tmp) / "store")
        poller = Poller(client, transport, static_directory(refs), store, load_catalog(), cfg,
                        pacing=pacing)  # fmt: skip
        got: list[Event] = []
        service = UsageService(poller, store, Dispatcher(store, [CallbackSink(got.append)]),
                               AlertRules())  # fmt: skip
        for n in range(1, args.cycles + 1):
            before = emu.admin("GET", "state")["requests"]
            stamped.stamps.clear()
            tracemalloc.start()
            report = service.run_once()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            after = emu.admin("GET", "state")["requests"]
            server = {k: after.get(k, 0) - before.get(k, 0) for k in after
                      if after.get(k, 0) != before.get(k, 0)}  # fmt: skip
            stamps = stamped.stamps
            worst = max((sum(1 for t in stamps if s <= t < s + 60) for s in stamps), default=0)
            _line(f"cycle_{n}", tenants=report.tenants, readings=report.readings,
                  requests_by_route=report.requests, requests_total=report.requests_total,
                  server_side_requests=server,
                  consumption_requests=report.consumption_requests,
                  consumption_max_per_60s=worst,
                  consumption_per_min_over_cycle=round(
                      report.consumption_requests / (report.scheduled_seconds / 60), 2),
                  project_reads=report.project_reads, events=report.events,
                  orgs_without_consumption=report.orgs_without_consumption,
                  scheduled_s=report.scheduled_seconds, wall_s=report.duration_seconds,
                  paced_s=report.paced_seconds,
                  fits_15_min=report.scheduled_seconds <= cfg.interval_seconds,
                  tracemalloc_peak_mib=round(peak / 2**20, 1))  # fmt: skip
        _line("memory", max_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                          / 1024, 1),
              store_mib=round(sum(p.stat().st_size for p in (Path(tmp) / "store").rglob("*")
                                  if p.is_file()) / 2**20, 1))  # fmt: skip
        _line("alerts", events=len(got), kinds=sorted({e.kind for e in got}))


if __name__ == "__main__":
    main()
