"""Whole-tier operations run their shards in parallel (issue #16).

Each shard is its own stack: its own `pulumi` engine process, dynamic-provider process,
state file and shard lock, so shards share nothing but the CPU. The Python side of each run
(the inline program and the Automation API plumbing) runs in a thread of this process: the
SDK keeps its per-run settings in context variables, so inline programs may run at once.
The heavy work is in the engine and provider processes, which the OS spreads over the
cores; `workers` defaults to the number of cores. Results keep the order of `items`; the
first failure is raised after every started run has finished (no run is abandoned halfway).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(os.cpu_count() or 1, 1)


def in_parallel(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    if workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(fn, item) for item in items]
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
    return [f.result() for f in futures]
