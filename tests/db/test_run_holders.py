"""`RunHolders`: which run holds another host's stack lock, and whether its worker still
beats (real PostgreSQL 15: `nt_runs` and procrastinate's `procrastinate_workers`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from neon_tenants.automation._backend_locks import BackendLock, RunHolders, verdict


@pytest.fixture()
def db(migrated_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        conn.execute("DELETE FROM nt_runs")
        conn.execute("DELETE FROM procrastinate_workers")
        yield conn


def _worker(db: psycopg.Connection[tuple[object, ...]], silent_for: float) -> int:
    row = db.execute(
        "INSERT INTO procrastinate_workers (last_heartbeat)"
        " VALUES (now() - make_interval(secs => %s)) RETURNING id", (silent_for,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def _run(
    db: psycopg.Connection[tuple[object, ...]], worker: int | None, *, ago: float = 5,
    finished: bool = False, host: str = "host-one", shard: int = 1,
) -> None:
    db.execute(
        "INSERT INTO nt_runs (tier, shard, job_id, host, pid, worker_id, started_at, finished_at)"
        " VALUES ('free', %s, 1, %s, 4242, %s, now() - make_interval(secs => %s),"
        " CASE WHEN %s THEN now() ELSE NULL END)", (shard, host, worker, ago, finished))


def _lock(stack: str = "free-01", host: str = "host-one", age: float = 2) -> BackendLock:
    # the clock at the call, like the runs' now(): not at import (other modules run first)
    taken = datetime.now(UTC) - timedelta(seconds=age)
    return BackendLock(key=f".pulumi/locks/organization/neon-tenants/{stack}/x.json",
                       project="neon-tenants", stack=stack, pid=99, username="root",
                       hostname=host, taken_at=taken, renewed_at=taken)


def test_a_beating_worker_holds_its_lock_a_silent_or_gone_one_does_not(
    db: psycopg.Connection[tuple[object, ...]], migrated_url: str
) -> None:
    judge = RunHolders(migrated_url, stalled_after=timedelta(seconds=30))
    live = _worker(db, silent_for=3)
    _run(db, live)
    assert judge.judge(_lock()) == "alive"
    db.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '45 s'")
    assert judge.judge(_lock()) == "dead"  # silent longer than stalled_after
    db.execute("DELETE FROM procrastinate_workers")  # pruned (or shut down)
    assert judge.judge(_lock()) == "dead"


def test_unknown_holders_are_left_to_the_lease(
    db: psycopg.Connection[tuple[object, ...]], migrated_url: str
) -> None:
    judge = RunHolders(migrated_url)
    assert judge.judge(_lock()) is None  # no run of that shard on that host
    _run(db, None)
    assert judge.judge(_lock()) is None  # a run that names no worker
    db.execute("DELETE FROM nt_runs")
    _run(db, _worker(db, silent_for=600), finished=True)
    assert judge.judge(_lock()) is None  # that run ended: the lock is someone else's
    assert judge.judge(_lock(stack="not a stack")) is None
    assert judge.judge(_lock(host="host-two")) is None


def test_the_newest_run_started_before_the_lock_is_the_holder(
    db: psycopg.Connection[tuple[object, ...]], migrated_url: str
) -> None:
    judge = RunHolders(migrated_url, skew=timedelta(seconds=0))
    _run(db, _worker(db, silent_for=600), ago=120)  # killed long ago, never finished
    _run(db, _worker(db, silent_for=1), ago=30)  # the live run that took the lock
    assert judge.judge(_lock(age=10)) == "alive"
    _run(db, _worker(db, silent_for=600), ago=1)  # started after the lock: not its holder
    assert judge.judge(_lock(age=10)) == "alive"


def test_the_heartbeat_overrides_the_lease_both_ways(
    db: psycopg.Connection[tuple[object, ...]], migrated_url: str
) -> None:
    judge = RunHolders(migrated_url)
    old = _lock(age=3600)
    _run(db, _worker(db, silent_for=1), ago=4000)
    lease = timedelta(seconds=900)
    assert verdict(old, host="vm", lease=lease) == "expired"  # the lease alone: cleared
    assert verdict(old, host="vm", lease=lease, holders=judge) == "alive"  # kept
    db.execute("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 h'")
    young = _lock(age=1)
    assert verdict(young, host="vm", lease=lease) == "leased"  # the lease alone: kept
    assert verdict(young, host="vm", lease=lease, holders=judge) == "dead"  # cleared now
