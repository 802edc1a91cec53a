"""`FleetManager.provision` latency on an idle system, and Neon API calls per flow
(counted by the emulator's `/_emulator/state` request counters).

Run: `python -m benchmarks.bench_fleet_provision [--samples 5]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import neon_tenants.automation._runner as runner
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from ._breakdown import Stamps, breakdown, read_profile, wrapped_programs
from ._fleet_harness import fleet_env, line, requests_by_route, timed


def _calls(emu: Any, name: str, fn: Callable[[], object]) -> None:
    before = requests_by_route(emu)
    ms = timed(fn)
    after = requests_by_route(emu)
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    row = {
        "name": f"api_calls_{name}",
        "calls": sum(delta.values()),
        "ms": round(ms, 1),
        "by_route": delta,
    }
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    stamps = Stamps()
    with tempfile.TemporaryDirectory() as tmp, fleet_env(
        Path(tmp), on_event=stamps.on_event, profile=Path(tmp) / "profile.jsonl"
    ) as (emu, fm), wrapped_programs(runner, "build_program", stamps):
        seed = tuple(TenantSpec(id=f"seed-{i:02d}") for i in range(5))
        save_fleet(fm.fleet_path("free"), FleetSpec(tier="free", tenants=seed))
        fm.up("free")
        profile_path = Path(tmp) / "profile.jsonl"
        profile_path.unlink(missing_ok=True)
        stamps.clear()
        ms = timed(lambda: fm.provision("profiled", "free"))
        row = {"name": "provision_breakdown",
               **breakdown(ms, stamps, read_profile(profile_path))}
        print(json.dumps(row), flush=True)

        def provision(i: int) -> Callable[[], object]:
            return lambda: fm.provision(f"lat-{i:02d}", "free")

        fresh = [timed(provision(i)) for i in range(args.samples)]
        repeat = [timed(provision(i)) for i in range(args.samples)]
        base = line("provision_idempotent_repeat", repeat)
        line("provision_new_tenant", fresh, base)

        _calls(emu, "provision", lambda: fm.provision("flow-a", "free"))
        _calls(emu, "provision_again", lambda: fm.provision("flow-a", "free"))
        _calls(emu, "upgrade_free_to_pro", lambda: fm.upgrade("flow-a", "pro"))
        _calls(emu, "downgrade_pro_to_free", lambda: fm.downgrade("flow-a", "free"))
        _calls(emu, "create_dev_branch", lambda: fm.create_dev_branch("flow-a", "dev"))
        _calls(emu, "snapshot", lambda: fm.snapshot("flow-a", "snap-1"))
        _calls(emu, "delete", lambda: fm.delete("flow-a"))


if __name__ == "__main__":
    main()
