"""Per-shard serialization: an fcntl lock file per stack (and, in the PostgreSQL mode, a
PostgreSQL advisory lock per stack that every host sees), plus retry on concurrent updates.

The file backend already refuses a second update on a locked stack (ConcurrentUpdateError);
queueing on our own lock first means two calls on one shard run one after the other instead
of one failing, and the fleet-file edit and the `up` it triggers happen as one unit. flock
locks belong to the open file description, so they also serialize threads of one process.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def shard_lock(lock_dir: Path, stack: str, conninfo: str | None = None) -> Iterator[None]:
    """The stack's lock on this host; with `conninfo` (PostgreSQL mode) also the stack's
    advisory lock in that database, so a worker's operation, a rollout wave and a backend
    call on another host read-modify-write one shard's rows one after the other (no lost
    update). The advisory lock lives on a connection of its own (never a pool's, which the
    holder still needs): a holder killed with `kill -9` drops it and PostgreSQL releases it."""
    with _file_lock(lock_dir, stack):
        if conninfo is None:
            yield
            return
        import psycopg

        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", ("nt-shard:" + stack,))
            yield


@contextmanager
def _file_lock(lock_dir: Path, stack: str) -> Iterator[None]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"{stack}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def shard_locks(
    lock_dir: Path, stacks: Sequence[str], conninfo: str | None = None
) -> Iterator[None]:
    """Several shards at once, always in sorted order so two movers cannot deadlock."""
    with ExitStack() as stack:
        for name in sorted(set(stacks)):
            stack.enter_context(shard_lock(lock_dir, name, conninfo))
        yield


def retry_concurrent(
    fn: Callable[[], T],
    *,
    attempts: int = 6,
    base_delay: float = 0.5,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Run `fn`, retrying ConcurrentUpdateError (another process, e.g. an infra `pulumi up`,
    holds the backend's stack lock) with exponential backoff and full jitter."""
    from pulumi.automation.errors import ConcurrentUpdateError

    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except ConcurrentUpdateError as exc:
            if attempt == attempts:
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            time.sleep(random.uniform(0, base_delay * 2 ** (attempt - 1)))
    raise AssertionError("unreachable")  # pragma: no cover
