"""What a one-tenant change costs as the shard grows, and what an unchanged preview costs
(issue #16). Metadata emulator, rate limits off, everything measured side by side in one run.

For each shard size (default 10, 100, 500 tenants, one stack each):
- seed `up` of the whole shard (one sample);
- one-tenant changes, p50 of `--samples`: provision a new tenant, add a dev branch, take a
  snapshot; the ratio is to the same change in the smallest shard of this run;
- API calls of one provision and one upgrade (emulator request counters);
- the breakdown of one provision (engine start, program, provider process, check/diff,
  handlers, API time, operation polls: benchmarks/_breakdown.py);
- unchanged preview: p50, API calls, cost per tenant.
Then an unchanged preview of a `--preview-size` (1,000) tenant shard, and whole-tier runs of
a `--tier-shards` x `--tier-tenants` tier with 1 worker and with one per core (speed-up).

Run: `python -m benchmarks.bench_shard_size [--sizes 10 100 500] [--preview-size 1000]`
(the full run seeds ~1,700 tenants: about 15-25 minutes on 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import neon_tenants.automation._runner as runner
import neon_tenants.automation._scoped as scoped
from neon_emulator.testing import EmulatorProcess
from neon_tenants.automation import FleetManager
from neon_tenants.automation._parallel import default_workers
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from ._breakdown import Stamps, breakdown, read_profile, wrapped_programs
from ._fleet_harness import CONFIG, line, requests_by_route, requests_total, timed

TIER = "free"


@contextmanager
def manager(root: Path, emu: Any, stamps: Stamps, **kw: Any) -> Iterator[FleetManager]:
    env = {**emu.client_env, "NEON_TENANTS_PROFILE": str(root / "profile.jsonl")}
    with FleetManager(root / "stacks", work_dir=root / "work",
                      backend_url=f"file://{root / 'state'}", lock_dir=root / "locks",
                      neon_env=env, on_event=stamps.on_event, archive=False, **kw) as fm:
        yield fm


def seed(fm: FleetManager, n: int, shards: int = 1, prefix: str = "t") -> float:
    tenants = tuple(TenantSpec(id=f"{prefix}-{i:04d}") for i in range(n))
    save_fleet(fm.fleet_path(TIER), FleetSpec(tier=TIER, shards=shards, tenants=tenants))
    return timed(lambda: fm.up(TIER))


def calls(emu: Any, fn: Callable[[], object]) -> tuple[int, dict[str, int]]:
    before = requests_by_route(emu)
    fn()
    after = requests_by_route(emu)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    return sum(delta.values()), delta


def profiled(fm: FleetManager, stamps: Stamps, root: Path, fn: Callable[[], object]
             ) -> dict[str, Any]:
    path = root / "profile.jsonl"
    path.unlink(missing_ok=True)
    stamps.clear()
    ms = timed(fn)
    return breakdown(ms, stamps, read_profile(path))


def one_size(emu: Any, root: Path, n: int, samples: int, stamps: Stamps,
             base: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {"tenants": n}
    with manager(root, emu, stamps) as fm:
        row["seed_up_s"] = round(seed(fm, n) / 1000, 1)
        prov = [timed(lambda i=i: fm.provision(f"new-{i:02d}", TIER)) for i in range(samples)]
        branch = [timed(lambda i=i: fm.create_dev_branch(f"new-{i:02d}", "dev"))
                  for i in range(samples)]
        snap = [timed(lambda i=i: fm.snapshot(f"new-{i:02d}", "s1")) for i in range(samples)]
        for name, got in (("provision", prov), ("dev_branch", branch), ("snapshot", snap)):
            p50 = line(f"shard_{n}_{name}", got, base.get(name))
            base.setdefault(name, p50)
            row[f"{name}_p50_s"] = round(p50 / 1000, 2)
            row[f"{name}_ratio"] = round(p50 / base[name], 2)
        row["provision_api_calls"], by = calls(emu, lambda: fm.provision("counted", TIER))
        print(json.dumps({"name": f"shard_{n}_provision_api_calls",
                          "calls": row["provision_api_calls"], "by_route": by}), flush=True)
        row["upgrade_api_calls"], by = calls(emu, lambda: fm.upgrade("counted", "pro"))
        print(json.dumps({"name": f"shard_{n}_upgrade_api_calls",
                          "calls": row["upgrade_api_calls"], "by_route": by}), flush=True)
        bd = profiled(fm, stamps, root, lambda: fm.provision("profiled", TIER))
        print(json.dumps({"name": f"shard_{n}_provision_breakdown", **bd}), flush=True)
        row["breakdown"] = bd
        before = requests_total(emu)
        prev = [timed(lambda: fm.preview([TIER])) for _ in range(samples)]
        row["preview_api_calls"] = (requests_total(emu) - before) // samples
        p50 = line(f"shard_{n}_preview_nochange", prev, None,
                   api_calls=row["preview_api_calls"], ms_per_tenant=round(
                       sorted(prev)[len(prev) // 2] / (n + samples + 2), 2))
        row["preview_p50_s"] = round(p50 / 1000, 2)
    return row


def big_preview(emu: Any, root: Path, n: int, samples: int, stamps: Stamps) -> dict[str, Any]:
    with manager(root, emu, stamps) as fm:
        seeded = seed(fm, n, prefix="p")
        before = requests_total(emu)
        prev = [timed(lambda: fm.preview([TIER])) for _ in range(samples)]
        api = (requests_total(emu) - before) // samples
        p50 = line(f"shard_{n}_preview_nochange", prev, None, api_calls=api,
                   ms_per_tenant=round(sorted(prev)[len(prev) // 2] / n, 2))
    return {"tenants": n, "seed_up_s": round(seeded / 1000, 1),
            "preview_p50_s": round(p50 / 1000, 2), "preview_api_calls": api}


def whole_tier(emu: Any, root: Path, shards: int, per_shard: int, stamps: Stamps
               ) -> dict[str, Any]:
    """Whole-tier `up` (no change: every resource checked and diffed by the engine) with one
    worker, then with one per core."""
    out: dict[str, Any] = {"shards": shards, "tenants": shards * per_shard}
    with manager(root, emu, stamps) as fm:
        seed(fm, shards * per_shard, shards=shards, prefix="w")
        for workers in (1, default_workers()):
            fm.workers = workers
            ms = timed(lambda: fm.up(TIER))
            out[f"up_{workers}_workers_s"] = round(ms / 1000, 1)
            line(f"tier_up_{shards}_shards_{workers}_workers", [ms])
    serial, parallel = out["up_1_workers_s"], out[f"up_{default_workers()}_workers_s"]
    out["speed_up"] = round(serial / parallel, 2) if parallel else None
    print(json.dumps({"name": "tier_up_speed_up", **out}), flush=True)
    return out


def pg_provision(root: Path, samples: int, stamps: Stamps) -> dict[str, Any]:
    """The same provision on the real-PostgreSQL emulator (computes start for real)."""
    config = {"compute": "postgres", "rate_limits": {"enabled": False}}
    with EmulatorProcess(root / "emu-pg", config=config) as emu, manager(root, emu, stamps) as fm:
        seed(fm, 5, prefix="g")
        got = [timed(lambda i=i: fm.provision(f"pg-{i:02d}", TIER)) for i in range(samples)]
        p50 = line("pg_emulator_provision", got)
    return {"provision_p50_s": round(p50 / 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--preview-size", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--tier-shards", type=int, default=4)
    parser.add_argument("--tier-tenants", type=int, default=25)
    parser.add_argument("--pg", action=argparse.BooleanOptionalAction, default=True,
                        help="also time provision on the real-PostgreSQL emulator")
    args = parser.parse_args()
    stamps = Stamps()
    rows: list[dict[str, Any]] = []
    base: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        emu = stack.enter_context(EmulatorProcess(root / "emu", config=CONFIG))
        stack.enter_context(wrapped_programs(runner, "build_program", stamps))
        stack.enter_context(wrapped_programs(scoped, "build_scoped_program", stamps))
        for n in sorted(args.sizes):
            rows.append(one_size(emu, root / f"size-{n}", n, args.samples, stamps, base))
        big = (big_preview(emu, root / "preview", args.preview_size, args.samples, stamps)
               if args.preview_size else None)
        tier = (whole_tier(emu, root / "tier", args.tier_shards, args.tier_tenants, stamps)
                if args.tier_shards > 1 else None)
        pg = pg_provision(root / "pg", args.samples, stamps) if args.pg else None
    print_table(rows, big, tier)
    if pg:
        print(f"provision on the real-PostgreSQL emulator (5-tenant shard): "
              f"p50 {pg['provision_p50_s']} s")


def print_table(rows: list[dict[str, Any]], big: dict[str, Any] | None,
                tier: dict[str, Any] | None) -> None:
    head = ("| shard | seed up | provision p50 (ratio) | dev branch p50 (ratio) | "
            "snapshot p50 (ratio) | API calls provision / upgrade | unchanged preview "
            "(API calls) |")
    out = [head, "|" + "---|" * 7]
    for r in rows:
        out.append(
            f"| {r['tenants']} | {r['seed_up_s']} s | {r['provision_p50_s']} s "
            f"({r['provision_ratio']}x) | {r['dev_branch_p50_s']} s ({r['dev_branch_ratio']}x) "
            f"| {r['snapshot_p50_s']} s ({r['snapshot_ratio']}x) | {r['provision_api_calls']} / "
            f"{r['upgrade_api_calls']} | {r['preview_p50_s']} s ({r['preview_api_calls']}) |")
    if big:
        out.append(f"| {big['tenants']} | {big['seed_up_s']} s | | | | | "
                   f"{big['preview_p50_s']} s ({big['preview_api_calls']}) |")
    print("\n".join(out))
    keys = ("engine_and_language_host_start_ms", "program_run_ms", "provider_process_start_ms",
            "provider_unpickle_to_first_handler_ms", "check_diff_calls", "check_diff_ms",
            "apply_handlers_ms", "api_calls", "api_ms", "op_poll_wait_ms",
            "engine_after_last_handler_ms", "outside_engine_ms", "total_ms")
    print("\nprovision breakdown (ms) | " + " | ".join(str(r["tenants"]) for r in rows))
    for k in keys:
        print(f"{k} | " + " | ".join(str(r["breakdown"].get(k)) for r in rows))
    if tier:
        print(f"\nwhole tier ({tier['shards']} shards, {tier['tenants']} tenants) up: "
              f"{tier['up_1_workers_s']} s with 1 worker, "
              f"{tier[f'up_{default_workers()}_workers_s']} s with {default_workers()} "
              f"(speed-up {tier['speed_up']}x)")


if __name__ == "__main__":
    main()
