"""Per-shard queueing: calls on one shard run one at a time, other shards do not wait."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pulumi.automation import errors as auto
from pulumi.automation._cmd import CommandResult

from neon_tenants.automation._locks import retry_concurrent, shard_lock, shard_locks


def test_same_shard_lock_serializes_threads(tmp_path: Path) -> None:
    inside = 0
    overlaps: list[int] = []
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside
        with shard_lock(tmp_path, "free-00"):
            with guard:
                inside += 1
                overlaps.append(inside)
            threading.Event().wait(0.02)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == [1] * 6


def test_other_shard_is_not_blocked(tmp_path: Path) -> None:
    entered = threading.Event()
    with shard_lock(tmp_path, "free-00"):

        def other() -> None:
            with shard_lock(tmp_path, "free-01"):
                entered.set()

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=10)
        assert entered.is_set()


def test_multi_lock_in_any_order_does_not_deadlock(tmp_path: Path) -> None:
    done: list[str] = []

    def move(a: str, b: str) -> None:
        for _ in range(20):
            with shard_locks(tmp_path, [a, b]):
                pass
        done.append(a)

    t1 = threading.Thread(target=move, args=("free-00", "pro"))
    t2 = threading.Thread(target=move, args=("pro", "free-00"))
    t1.start()
    t2.start()
    t1.join(timeout=30)
    t2.join(timeout=30)
    assert sorted(done) == ["free-00", "pro"]


def _busy() -> auto.ConcurrentUpdateError:
    return auto.ConcurrentUpdateError(CommandResult("", "the stack is currently locked by", 255))


def test_retry_concurrent_retries_then_succeeds() -> None:
    calls: list[int] = []
    retries: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _busy()
        return "ok"

    assert retry_concurrent(fn, base_delay=0.001, on_retry=lambda n, e: retries.append(n)) == "ok"
    assert len(calls) == 3 and retries == [1, 2]


def test_retry_concurrent_gives_up_and_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def busy() -> None:
        calls.append(1)
        raise _busy()

    with pytest.raises(auto.ConcurrentUpdateError):
        retry_concurrent(busy, attempts=3, base_delay=0.001)
    assert len(calls) == 3

    def broken() -> None:
        calls.append(2)
        raise auto.CommandError(CommandResult("", "boom", 1))

    with pytest.raises(auto.CommandError):
        retry_concurrent(broken, attempts=3, base_delay=0.001)
    assert calls.count(2) == 1
