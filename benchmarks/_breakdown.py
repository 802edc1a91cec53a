"""Where one fleet operation spends its time (issue #16): a breakdown from three sources.

- `FleetManager`'s progress events (`engine_started` / `engine_done`), stamped on receipt;
- the program function, wrapped so its start and end are stamped (it runs in this process:
  the Automation API's inline program);
- the dynamic-provider process's profile file (`NEON_TENANTS_PROFILE`, providers/_profile.py):
  one line per handler call with its API calls, API time and client sleeps (operation polls).

Phases overlap (the engine runs steps while the program still registers resources), so the
figures are each measured on their own and do not add up to the total exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from neon_tenants.automation.events import ProgressEvent, StackProgress


class Stamps:
    """Receives FleetManager events; `program` wraps a built program to stamp its run."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []
        self.program_runs: list[tuple[float, float]] = []

    def on_event(self, event: ProgressEvent) -> None:
        if isinstance(event, StackProgress):
            self.events.append((time.time(), event.phase))

    def wrap(self, program: Callable[[], None]) -> Callable[[], None]:
        def stamped() -> None:
            start = time.time()
            try:
                program()
            finally:
                self.program_runs.append((start, time.time()))

        return stamped

    def clear(self) -> None:
        self.events.clear()
        self.program_runs.clear()


@contextmanager
def wrapped_programs(module: Any, attr: str, stamps: Stamps) -> Iterator[None]:
    """Patch `module.attr` (the runner's `build_program`) so every program it builds is
    stamped; restored on exit. Benchmarks only: production code carries no timing hooks."""
    original = getattr(module, attr)

    def build(*args: Any, **kwargs: Any) -> Callable[[], None]:
        return stamps.wrap(original(*args, **kwargs))

    setattr(module, attr, build)
    try:
        yield
    finally:
        setattr(module, attr, original)


def read_profile(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def breakdown(
    total_ms: float, stamps: Stamps, profile: list[dict[str, Any]]
) -> dict[str, Any]:
    """One operation's figures, in ms (None where a source saw nothing)."""
    def first(phase: str) -> float | None:
        return next((t for t, p in stamps.events if p == phase), None)

    engine_start, engine_end = first("engine_started"), first("engine_done")
    prog_start = stamps.program_runs[0][0] if stamps.program_runs else None
    prog_end = stamps.program_runs[-1][1] if stamps.program_runs else None
    handlers = [r for r in profile if r.get("event") == "handler"]
    process = [r for r in profile if r.get("event") == "process"]

    def ms(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round((b - a) * 1000, 1)

    def total(names: tuple[str, ...], key: str = "") -> float:
        rows = [r for r in handlers if r["handler"] in names]
        if key:
            return round(sum(float(r[key]) for r in rows), 1)
        return round(sum((r["end"] - r["start"]) * 1000 for r in rows), 1)

    first_handler = min((r["start"] for r in handlers), default=None)
    imported = min((r["imported_at"] for r in process), default=None)
    engine_ms = ms(engine_start, engine_end)
    return {
        "total_ms": round(total_ms, 1),
        "outside_engine_ms": (round(total_ms - engine_ms, 1) if engine_ms is not None
                              else None),
        "engine_ms": engine_ms,
        "engine_and_language_host_start_ms": ms(engine_start, prog_start),
        "program_run_ms": ms(prog_start, prog_end),
        "provider_process_start_ms": ms(prog_start, imported),
        "provider_unpickle_to_first_handler_ms": ms(imported, first_handler),
        "check_diff_calls": sum(1 for r in handlers if r["handler"] in ("check", "diff")),
        "check_diff_ms": total(("check", "diff")),
        "apply_handler_calls": sum(1 for r in handlers
                                   if r["handler"] in ("create", "update", "delete", "read")),
        "apply_handlers_ms": total(("create", "update", "delete", "read")),
        "api_calls": int(total(("create", "update", "delete", "read"), "api_calls")),
        "api_ms": total(("create", "update", "delete", "read"), "api_ms"),
        "op_poll_wait_ms": total(("create", "update", "delete", "read"), "wait_ms"),
        "engine_after_last_handler_ms": ms(max((r["end"] for r in handlers), default=None),
                                           engine_end),
    }
