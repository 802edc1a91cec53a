"""Progress events from workers to the callers that wait (issue 11), through one table.

A worker's engine emits the same typed events as an in-process run (`automation/events.py`:
`StackProgress`, `ResourceStep`); `EventLog.append` stores each one as a row of `nt_events`
(tagged with its stack, its tenant when it has one, and the operation it belongs to) and
wakes the waiters with `NOTIFY nt_events, '<tenant>'`. A caller's `wait` reads the rows after
its cursor and hands them, rebuilt as the same dataclasses, to its manager's `on_event`.

Bounded: `prune` drops events older than `keep` (the worker calls it at the start of each
job), so the table holds about the last hour of work whatever the fleet's size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from neon_tenants.automation.events import ProgressEvent, ResourceStep, StackProgress
from neon_tenants.db._pool import PooledStore

CHANNEL = "nt_events"
KEEP = timedelta(hours=1)

_TYPES: dict[str, type[StackProgress] | type[ResourceStep]] = {
    "StackProgress": StackProgress,
    "ResourceStep": ResourceStep,
}


def encode(event: ProgressEvent) -> dict[str, Any]:
    """The event's fields and, under `event`, its class (a ResourceStep has a `type`)."""
    return {**dataclasses.asdict(event), "event": type(event).__name__}


def decode(data: dict[str, Any]) -> ProgressEvent | None:
    """The typed event back; None for a class this version does not know."""
    kind = _TYPES.get(str(data.get("event")))
    if kind is None:
        return None
    fields = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in data.items() if k in fields})


class EventLog(PooledStore):
    """`nt_events`: append (workers), read after a cursor (waiters), prune."""

    def __init__(self, conninfo: str, *, max_size: int = 2) -> None:
        super().__init__(conninfo, max_size=max_size)
        self.conninfo = conninfo

    def append(
        self, event: ProgressEvent, *, tenant: str | None = None, operation: int | None = None
    ) -> None:
        """One event; `tenant` defaults to the event's own (a ResourceStep's)."""
        who = tenant if tenant is not None else getattr(event, "tenant", None)
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO nt_events (stack, tenant_id, operation_id, event)"
                " VALUES (%s, %s, %s, %s)",
                (event.stack, who, operation, Jsonb(encode(event))),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, who or event.stack))

    def notify(self, key: str) -> None:
        """Wake the waiters of `key` (a tenant or a stack) without an event."""
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, key))

    def last_id(self) -> int:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM nt_events").fetchone()
        return int(row[0]) if row else 0

    def for_operation(self, operation: int, after: int) -> list[tuple[int, ProgressEvent]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, event FROM nt_events WHERE operation_id = %s AND id > %s"
                " ORDER BY id",
                (operation, after),
            ).fetchall()
        return _decoded(rows)

    def for_tenant(
        self, tenant: str, stack: str, after: int, since: datetime | None = None
    ) -> list[tuple[int, ProgressEvent]]:
        """The tenant's events and its stack's own (engine started/done) after `after`
        (and, on the first read, not older than `since`: the request's time)."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, event FROM nt_events WHERE id > %s"
                " AND (tenant_id = %s OR (tenant_id IS NULL AND stack = %s))"
                " AND (%s::timestamptz IS NULL OR at >= %s::timestamptz) ORDER BY id",
                (after, tenant, stack, since, since),
            ).fetchall()
        return _decoded(rows)

    def prune(self, keep: timedelta = KEEP) -> int:
        with self._pool.connection() as conn:
            cur = conn.execute("DELETE FROM nt_events WHERE at < now() - %s", (keep,))
            return cur.rowcount


def _decoded(rows: list[tuple[Any, ...]]) -> list[tuple[int, ProgressEvent]]:
    out: list[tuple[int, ProgressEvent]] = []
    for row_id, data in rows:
        event = decode(dict(data))
        if event is not None:
            out.append((int(row_id), event))
    return out


@contextmanager
def listening(conninfo: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection LISTENing on the events channel (a waiter's wake-up)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield conn


def sleep_until_notified(conn: psycopg.Connection[Any], key: str, timeout: float) -> None:
    """Block up to `timeout` seconds, returning early on a notification for `key`."""
    for note in conn.notifies(timeout=max(timeout, 0.0)):
        if note.payload == key:
            return
