"""The shard lock in PostgreSQL mode is an advisory lock every host sees (real PostgreSQL 15):
a rollout wave, a worker's operation and a backend call on different hosts edit one shard's
rows one after the other, and a holder that dies releases it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from neon_tenants.automation._locks import shard_lock


def _held_elsewhere(url: str, stack: str) -> psycopg.Connection[tuple[object, ...]]:
    """Another host's holder: its own connection, its own lock directory."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", ("nt-shard:" + stack,))
    return conn


def test_a_holder_on_another_host_makes_the_shard_wait_until_it_lets_go(
    migrated_url: str, tmp_path: Path
) -> None:
    other = _held_elsewhere(migrated_url, "free-01")
    entered = threading.Event()

    def edit() -> None:
        with shard_lock(tmp_path / "host-b", "free-01", migrated_url):
            entered.set()

    worker = threading.Thread(target=edit)
    worker.start()
    try:
        assert not entered.wait(1.5)  # no lock file is shared, yet it waits
        with shard_lock(tmp_path / "host-b", "free-02", migrated_url):
            pass  # another shard is not held up
    finally:
        other.close()  # the holder dies (its connection drops): PostgreSQL releases the lock
    assert entered.wait(10)
    worker.join(10)


def test_without_a_database_the_lock_is_the_host_lock_file(tmp_path: Path) -> None:
    order: list[str] = []

    def hold() -> None:
        with shard_lock(tmp_path, "free", None):
            order.append("a-in")
            time.sleep(0.5)
            order.append("a-out")

    first = threading.Thread(target=hold)
    first.start()
    time.sleep(0.1)
    with shard_lock(tmp_path, "free", None):
        order.append("b-in")
    first.join()
    assert order == ["a-in", "a-out", "b-in"]
