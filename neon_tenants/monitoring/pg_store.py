"""The monitoring store in PostgreSQL (the PostgreSQL mode of issue 11; tables from
`neon-tenants db migrate`).

Same contract as `FileUsageStore`, but shared by every replica: `raise_once` is an
`INSERT ... ON CONFLICT DO NOTHING RETURNING`, so two pollers racing on the same reading raise
each event once between them; `mark_delivered` appends the sink in one UPDATE. Readings keep
one row per tenant in `nt_usage_latest` and a history row per changed reading in
`nt_usage_readings`, indexed by (tenant, period, taken_at). The tables are migration 3 of
`neon_tenants.db.schema` (USAGE_SQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from neon_tenants.monitoring.models import CycleReport, DeliveryRecord, Event, Notice
from neon_tenants.monitoring.readings import Reading


class PostgresUsageStore:
    def __init__(self, conninfo: str, *, max_size: int = 2) -> None:
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, open=True,
                                    kwargs={"autocommit": True})  # fmt: skip

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    # -- readings ---------------------------------------------------------------------------
    def latest(self) -> dict[str, Reading]:
        with self._tx() as conn:
            rows = conn.execute("SELECT tenant, reading FROM nt_usage_latest").fetchall()
        return {t: Reading.model_validate(r) for t, r in rows}

    def save_readings(self, readings: Iterable[Reading]) -> None:
        batch = list(readings)
        with self._tx() as conn:
            old = {t: (p, u) for t, p, u in conn.execute(
                "SELECT tenant, period, reading->'used' FROM nt_usage_latest"
                " WHERE tenant = ANY(%s)", ([r.tenant for r in batch],)).fetchall()}  # fmt: skip
            changed = [r for r in batch if old.get(r.tenant) != (r.period, r.used)]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO nt_usage_readings (tenant, period, reading, taken_at)"
                    " VALUES (%s, %s, %s, %s)",
                    [(r.tenant, r.period, Jsonb(r.model_dump(mode="json")), r.taken_at)
                     for r in changed],
                )  # fmt: skip
                cur.executemany(
                    "INSERT INTO nt_usage_latest (tenant, period, reading, taken_at)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (tenant) DO UPDATE SET"
                    " period = excluded.period, reading = excluded.reading,"
                    " taken_at = excluded.taken_at",
                    [(r.tenant, r.period, Jsonb(r.model_dump(mode="json")), r.taken_at)
                     for r in batch],
                )  # fmt: skip

    def history(self, period: str) -> list[Reading]:
        with self._tx() as conn:
            rows = conn.execute("SELECT reading FROM nt_usage_readings WHERE period = %s"
                                " ORDER BY id", (period,)).fetchall()  # fmt: skip
        return [Reading.model_validate(r) for (r,) in rows]

    def save_cycle(self, report: CycleReport) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO nt_usage_cycles (report) VALUES (%s)",
                         (Jsonb(report.model_dump(mode="json")),))  # fmt: skip

    def last_cycle(self) -> CycleReport | None:
        with self._tx() as conn:
            row = conn.execute("SELECT report FROM nt_usage_cycles ORDER BY id DESC LIMIT 1"
                               ).fetchone()  # fmt: skip
        return CycleReport.model_validate(row[0]) if row else None

    # -- events -------------------------------------------------------------------------------
    def raise_once(self, events: Iterable[Event]) -> list[Event]:
        new: list[Event] = []
        with self._tx() as conn:
            for e in events:
                row = conn.execute(
                    "INSERT INTO nt_usage_events (id, period, event) VALUES (%s, %s, %s)"
                    " ON CONFLICT (id) DO NOTHING RETURNING id",
                    (e.id, e.period, Jsonb(e.model_dump(mode="json"))),
                ).fetchone()
                if row is not None:
                    new.append(e)
        return new

    def pending(self) -> list[Event]:
        with self._tx() as conn:
            rows = conn.execute("SELECT event FROM nt_usage_events WHERE NOT settled"
                                " ORDER BY seq").fetchall()  # fmt: skip
        return [Event.model_validate(r) for (r,) in rows]

    def events(self, period: str | None = None) -> list[Event]:
        with self._tx() as conn:
            rows = conn.execute("SELECT event FROM nt_usage_events WHERE %s::text IS NULL"
                                " OR period = %s ORDER BY seq", (period, period)).fetchall()
        return [Event.model_validate(r) for (r,) in rows]

    def delivered(self, event_id: str, sink: str) -> bool:
        with self._tx() as conn:
            row = conn.execute("SELECT %s = ANY(delivered) OR settled FROM nt_usage_events"
                               " WHERE id = %s", (sink, event_id)).fetchone()  # fmt: skip
        return row is None or bool(row[0])

    def mark_delivered(self, event_id: str, sink: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE nt_usage_events SET delivered = array_append(delivered, %s)"
                         " WHERE id = %s AND NOT %s = ANY(delivered)",
                         (sink, event_id, sink))  # fmt: skip

    def settle(self, sinks: Iterable[str]) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE nt_usage_events SET settled = true"
                         " WHERE NOT settled AND delivered @> %s", (list(sinks),))

    def log_delivery(self, record: DeliveryRecord) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO nt_usage_deliveries (event_id, record) VALUES (%s, %s)",
                         (record.event_id, Jsonb(record.model_dump(mode="json"))))

    def deliveries(self) -> list[DeliveryRecord]:
        with self._tx() as conn:
            rows = conn.execute("SELECT record FROM nt_usage_deliveries ORDER BY id").fetchall()
        return [DeliveryRecord.model_validate(r) for (r,) in rows]

    # -- notices ------------------------------------------------------------------------------
    def notices(self) -> dict[str, Notice]:
        with self._tx() as conn:
            rows = conn.execute("SELECT tenant, notice FROM nt_usage_notices").fetchall()
        return {t: Notice.model_validate(n) for t, n in rows}

    def put_notice(self, notice: Notice) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO nt_usage_notices (tenant, notice) VALUES (%s, %s)"
                         " ON CONFLICT (tenant) DO UPDATE SET notice = excluded.notice",
                         (notice.tenant, Jsonb(notice.model_dump(mode="json"))))
