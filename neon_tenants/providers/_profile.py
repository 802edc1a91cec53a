"""Where a provider process spends its time, for `benchmarks/` (issue #16); off by default.

With `NEON_TENANTS_PROFILE=<file>` in the engine's environment, the dynamic-provider process
appends one JSON line per handler call to that file: handler, resource type, wall-clock start
and end, the Neon API calls made during it and the time they took, and the time spent
sleeping in the client (operation polling and retry backoff). One more line, `process`, says
when the process imported the providers (its start-up as seen from Python). The benchmark
lines these up with the engine's own timings; nothing is timed or asserted in tests.

Counting happens in an `httpx` transport wrapper and a `sleep` wrapper handed to the client,
so the client itself carries no profiling code. Lines are written with one `write` call on a
file opened in append mode, so the provider's handler threads never interleave a line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

ENV = "NEON_TENANTS_PROFILE"
IMPORTED_AT = time.time()

_local = threading.local()
_process_written = False
_write_lock = threading.Lock()


def path() -> str | None:
    return os.environ.get(ENV) or None


def _counters() -> dict[str, float]:
    counters: dict[str, float] | None = getattr(_local, "counters", None)
    if counters is None:
        counters = {"api_calls": 0, "api_ms": 0.0, "wait_ms": 0.0}
        _local.counters = counters
    return counters


def _write(row: dict[str, Any]) -> None:
    target = path()
    if target is None:
        return
    global _process_written
    with _write_lock:
        lines = []
        if not _process_written:
            _process_written = True
            lines.append(json.dumps({"event": "process", "pid": os.getpid(),
                                     "imported_at": IMPORTED_AT}))
        lines.append(json.dumps(row))
        with open(target, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


@contextmanager
def handler(name: str, resource: str) -> Iterator[None]:
    """Time one handler call (check, diff, create, read, update, delete)."""
    if path() is None:
        yield
        return
    counters = _counters()
    before = dict(counters)
    start = time.time()
    try:
        yield
    finally:
        end = time.time()
        _write({
            "event": "handler", "pid": os.getpid(), "handler": name, "resource": resource,
            "start": start, "end": end,
            **{k: round(counters[k] - before[k], 3) for k in counters},
        })


def instruments() -> tuple[httpx.BaseTransport | None, Callable[[float], None] | None]:
    """(transport, sleep) for the client: counting wrappers when profiling, else (None, None)."""
    if path() is None:
        return None, None
    import httpx

    class CountingTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            t = time.perf_counter()
            try:
                response = super().handle_request(request)
                response.read()
                return response
            finally:
                counters = _counters()
                counters["api_calls"] += 1
                counters["api_ms"] += (time.perf_counter() - t) * 1000

    def sleep(seconds: float) -> None:
        t = time.perf_counter()
        time.sleep(seconds)
        _counters()["wait_ms"] += (time.perf_counter() - t) * 1000

    return CountingTransport(), sleep
