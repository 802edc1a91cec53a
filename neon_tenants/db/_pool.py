"""The shape every PostgreSQL-mode store shares: one autocommit connection pool, opened
lazily (`min_size=0`), and `_tx()`, one short transaction with dict rows.

Used by the fleet store (`db/store.py`), the operations table (`jobs/_ops.py`) and the event
log (`jobs/_events.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


class PooledStore:
    def __init__(self, conninfo: str, *, max_size: int) -> None:
        self._pool = ConnectionPool(
            conninfo, min_size=0, max_size=max_size, open=True, kwargs={"autocommit": True}
        )

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn.cursor(row_factory=dict_row)
