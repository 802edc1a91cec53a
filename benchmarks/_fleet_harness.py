"""Shared bits of the fleet benchmarks: an emulator + FleetManager in a temp dir, timing and
one JSON line per figure (STYLE.md: benchmarks print, tests never time)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neon_emulator.testing import EmulatorProcess
from neon_tenants.automation import FleetManager

CONFIG: dict[str, Any] = {"compute": "metadata", "rate_limits": {"enabled": False}}


@contextmanager
def fleet_env(
    root: Path, config: dict[str, Any] | None = None, *,
    on_event: Callable[[Any], None] | None = None, profile: Path | None = None,
) -> Iterator[tuple[Any, FleetManager]]:
    """Emulator + FleetManager; `profile` makes the provider processes write their handler
    timings there (`NEON_TENANTS_PROFILE`, see benchmarks/_breakdown.py)."""
    with EmulatorProcess(root / "emu", config=config or CONFIG) as emu:
        env = dict(emu.client_env)
        if profile is not None:
            env["NEON_TENANTS_PROFILE"] = str(profile)
        with FleetManager(
            root / "stacks",
            work_dir=root / "work",
            backend_url=f"file://{root / 'state'}",
            lock_dir=root / "locks",
            neon_env=env,
            on_event=on_event,
            archive=False,  # metadata compute: no database to dump before a delete
        ) as fm:
            yield emu, fm


def requests_total(emu: Any) -> int:
    return int(emu.admin("GET", "/_emulator/state")["requests_total"])


def requests_by_route(emu: Any) -> dict[str, int]:
    return dict(emu.admin("GET", "/_emulator/state")["requests"])


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def line(name: str, samples: list[float], baseline: float | None = None, **extra: object) -> float:
    p50 = statistics.median(samples)
    p95 = sorted(samples)[max(int(round(len(samples) * 0.95)) - 1, 0)]
    row: dict[str, object] = {
        "name": name,
        "n": len(samples),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
    }
    if baseline:
        row["ratio"] = round(p50 / baseline, 2)
    row.update(extra)
    print(json.dumps(row), flush=True)
    return p50
