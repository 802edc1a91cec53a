"""Time to preview a 500-tenant shard with no changes (metadata emulator), and the API
calls it costs. Baseline in the same run: a 10-tenant shard.

Run: `python -m benchmarks.bench_fleet_preview [--tenants 500] [--samples 3]`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from ._fleet_harness import fleet_env, line, requests_total, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fleet_env(Path(tmp)) as (emu, fm):
        small = FleetSpec(
            tier="free", tenants=tuple(TenantSpec(id=f"s-{i:04d}") for i in range(10))
        )
        big = FleetSpec(
            tier="pro", tenants=tuple(TenantSpec(id=f"b-{i:04d}") for i in range(args.tenants))
        )
        save_fleet(fm.fleet_path("free"), small)
        save_fleet(fm.fleet_path("pro"), big)
        line("fleet_up_create_10", [timed(lambda: fm.up("free"))])
        before = requests_total(emu)
        line(
            f"fleet_up_create_{args.tenants}",
            [timed(lambda: fm.up("pro"))],
            api_calls=requests_total(emu) - before,
        )

        base = [timed(lambda: fm.preview(["free"])) for _ in range(args.samples)]
        baseline = line("fleet_preview_nochange_10", base)
        before = requests_total(emu)
        samples = []
        codes: list[int] = []
        for _ in range(args.samples):
            samples.append(timed(lambda: codes.append(fm.preview(["pro"]).exit_code)))
        assert codes == [0] * args.samples, "a no-change preview reported changes"
        calls = (requests_total(emu) - before) / args.samples
        line(
            f"fleet_preview_nochange_{args.tenants}", samples, baseline, api_calls_per_preview=calls
        )


if __name__ == "__main__":
    main()
