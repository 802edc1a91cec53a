"""What a rollout costs per tenant (issue 12), side by side in one run on the real-Postgres
emulator: one tenant per wave (`batch=1`: a checkpoint `up` and a migrate `up` for every
tenant, what `rollout` did before waves) against waves (`batch=n`: the canary, then the other
tenants of the shard in one wave). Each run migrates every tenant of a `pro` fleet (no snapshot
rotation) from one revision to the next with a `psql` migration; both fleets live on the same
emulator and are rolled out one after the other for each revision, in alternating order.

Run: `source scripts/env.sh && .venv/bin/python -m benchmarks.bench_rollout [--sizes 3,12]`.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from neon_emulator.testing import EmulatorProcess
from neon_tenants.automation import FleetManager, ProgressEvent, RolloutResult, StackProgress
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from ._fleet_harness import line, timed
from .bench_command_steps import manager

MIGRATE = (
    'psql "$DATABASE_URL" -q -1 -v ON_ERROR_STOP=1 '
    '-c "create table if not exists migrations_run (revision text)" '
    "-c \"insert into migrations_run values ('$NEON_TENANTS_APP_REVISION')\""
)


class Ups:
    """Counts the engine `up` runs a manager starts."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: ProgressEvent) -> None:
        if isinstance(event, StackProgress) and event.phase == "engine_started" \
                and event.message == "up":
            self.count += 1


def _fleet(root: Path, emu: Any, prefix: str, n: int, ups: Ups) -> FleetManager:
    fm = manager(root, emu, False, ups)
    tenants = tuple(TenantSpec(id=f"{prefix}-{i}") for i in range(n))
    save_fleet(fm.fleet_path("pro"), FleetSpec(tier="pro", tenants=tenants, app_revision="r1",
                                               migration_command=MIGRATE))
    fm.up("pro")
    return fm


def _into(out: list[RolloutResult], run: Callable[[], RolloutResult]) -> None:
    out.append(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,12", help="tenants per fleet, comma-separated")
    parser.add_argument("--samples", type=int, default=1, help="rollouts per size and mode")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = {"rate_limits": {"enabled": False}}
        with EmulatorProcess(root / "emu", config=config) as emu:
            for n in sizes:
                modes = {"one_per_up": (1, Ups()), "waves": (n, Ups())}
                fleets = {m: _fleet(root / f"{m}-{n}", emu, f"{m[0]}{n}", n, ups)
                          for m, (_, ups) in modes.items()}
                per_tenant: dict[str, list[float]] = {m: [] for m in modes}
                runs: dict[str, list[int]] = {m: [] for m in modes}
                for k in range(args.samples):
                    revision = f"r{k + 2}"
                    order = list(modes) if k % 2 == 0 else list(reversed(modes))
                    for mode in order:  # alternated: neither mode always runs first
                        batch, ups = modes[mode]
                        before = ups.count
                        run = partial(fleets[mode].rollout, "pro", revision, canary=1,
                                      batch=batch)
                        result: list[RolloutResult] = []
                        ms = timed(partial(_into, result, run))
                        if not result[0].ok or len(result[0].migrated) != n:
                            raise SystemExit(f"{mode} rollout of {n} failed: {result[0]}")
                        per_tenant[mode].append(ms / n)
                        runs[mode].append(ups.count - before)
                base = line(f"rollout_{n}_tenants_one_per_up_per_tenant", per_tenant["one_per_up"],
                            n_tenants=n, engine_ups=runs["one_per_up"][0])
                line(f"rollout_{n}_tenants_in_waves_per_tenant", per_tenant["waves"], base,
                     n_tenants=n, engine_ups=runs["waves"][0], batch=n)
                for fm in fleets.values():
                    fm.close()


if __name__ == "__main__":
    main()
