"""`neon-tenants db migrate`: the fleet store's and the job queue's schema, versioned.

Each migration runs once, in its own transaction, under a transaction-scoped advisory lock,
so two hosts migrating at once apply each step exactly once and a crash mid-way leaves the
previous version (PostgreSQL DDL is transactional). `neon_tenants_schema` records what ran.
Version 2 is procrastinate's own schema (its `schema.sql`, the documented way to install it
on an empty database); it is skipped when procrastinate's tables are already there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

_LOCK_KEY = 0x4E54_5343  # "NTSC": the advisory lock every migrator takes

FLEET_SQL = """
CREATE TABLE nt_fleets (
    tier        text PRIMARY KEY,
    shards      integer NOT NULL CHECK (shards BETWEEN 1 AND 99),
    platform    text NOT NULL DEFAULT 'nt',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE nt_tenants (
    tier             text NOT NULL REFERENCES nt_fleets(tier),
    tenant_id        text NOT NULL,
    shard            integer NOT NULL,
    spec             jsonb NOT NULL,
    present          boolean NOT NULL DEFAULT true,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'applying', 'ready', 'failed')),
    error            text,
    version          bigint NOT NULL DEFAULT 1,
    applied_version  bigint NOT NULL DEFAULT 0,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tier, tenant_id)
);
CREATE INDEX nt_tenants_shard ON nt_tenants (tier, shard);
CREATE INDEX nt_tenants_id ON nt_tenants (tenant_id);
CREATE TABLE nt_runs (
    id           bigserial PRIMARY KEY,
    tier         text NOT NULL,
    shard        integer NOT NULL,
    job_id       bigint,
    host         text NOT NULL,
    pid          integer NOT NULL,
    tenants      integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text
);
CREATE INDEX nt_runs_shard ON nt_runs (tier, shard, started_at);
"""

# usage monitoring (issue 13): neon_tenants/monitoring/pg_store.py reads and writes these
USAGE_SQL = """
CREATE TABLE nt_usage_latest (
    tenant    text PRIMARY KEY,
    period    text NOT NULL,
    reading   jsonb NOT NULL,
    taken_at  timestamptz NOT NULL
);
CREATE TABLE nt_usage_readings (
    id        bigserial PRIMARY KEY,
    tenant    text NOT NULL,
    period    text NOT NULL,
    reading   jsonb NOT NULL,
    taken_at  timestamptz NOT NULL
);
CREATE INDEX nt_usage_readings_tenant ON nt_usage_readings (tenant, period, taken_at);
CREATE TABLE nt_usage_events (
    seq        bigserial UNIQUE,
    id         text PRIMARY KEY,
    period     text NOT NULL,
    event      jsonb NOT NULL,
    delivered  text[] NOT NULL DEFAULT '{}',
    settled    boolean NOT NULL DEFAULT false
);
CREATE INDEX nt_usage_events_pending ON nt_usage_events (seq) WHERE NOT settled;
CREATE INDEX nt_usage_events_period ON nt_usage_events (period, seq);
CREATE TABLE nt_usage_deliveries (
    id        bigserial PRIMARY KEY,
    event_id  text NOT NULL,
    record    jsonb NOT NULL
);
CREATE TABLE nt_usage_notices (
    tenant  text PRIMARY KEY,
    notice  jsonb NOT NULL
);
CREATE TABLE nt_usage_cycles (
    id      bigserial PRIMARY KEY,
    report  jsonb NOT NULL
);
"""


# compound checkpoints (issue 12): a table of their own instead of the spec jsonb; records a
# spec already holds move here (a tenant listed in two tiers mid-move: once)
CHECKPOINTS_SQL = """
CREATE TABLE nt_checkpoints (
    id            bigserial PRIMARY KEY,
    tenant_id     text NOT NULL,
    tier          text NOT NULL,
    label         text NOT NULL,
    snapshot      text NOT NULL,
    app_revision  text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz,
    retired_why   text CHECK (retired_why IN ('dropped', 'replaced', 'deleted')),
    CHECK ((retired_at IS NULL) = (retired_why IS NULL))
);
CREATE UNIQUE INDEX nt_checkpoints_live ON nt_checkpoints (tenant_id, label)
    WHERE retired_at IS NULL;
CREATE INDEX nt_checkpoints_tenant ON nt_checkpoints (tenant_id, id);
INSERT INTO nt_checkpoints (tenant_id, tier, label, snapshot, app_revision, metadata, created_at)
SELECT t.tenant_id, t.tier, c.value->>'label', c.value->>'snapshot', c.value->>'app_revision',
       coalesce(c.value->'metadata', '{}'), (c.value->>'created_at')::timestamptz
FROM nt_tenants t, jsonb_array_elements(t.spec->'checkpoints') WITH ORDINALITY AS c(value, n)
WHERE jsonb_typeof(t.spec->'checkpoints') = 'array'
ORDER BY t.present DESC, t.tenant_id, c.n
ON CONFLICT (tenant_id, label) WHERE retired_at IS NULL DO NOTHING;
UPDATE nt_tenants SET spec = spec - 'checkpoints' WHERE spec ? 'checkpoints';
"""


# queued operations other than provision and the engine's progress events (issue 11):
# neon_tenants/jobs/_ops.py and jobs/_events.py read and write these
OPERATIONS_SQL = """
CREATE TABLE nt_operations (
    id             bigserial PRIMARY KEY,
    tenant_id      text NOT NULL,
    tier           text NOT NULL,
    stack          text NOT NULL,
    kind           text NOT NULL,
    args           jsonb NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error          text,
    error_kind     text,
    error_details  jsonb,
    result         jsonb,
    job_id         bigint,
    attempts       integer NOT NULL DEFAULT 0,
    host           text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX nt_operations_tenant ON nt_operations (tenant_id, id);
CREATE INDEX nt_operations_open ON nt_operations (created_at) WHERE status IN ('queued', 'running');
CREATE TABLE nt_events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    stack         text NOT NULL,
    tenant_id     text,
    operation_id  bigint,
    event         jsonb NOT NULL
);
CREATE INDEX nt_events_tenant ON nt_events (tenant_id, id);
CREATE INDEX nt_events_stack ON nt_events (stack, id) WHERE tenant_id IS NULL;
CREATE INDEX nt_events_operation ON nt_events (operation_id, id);
CREATE INDEX nt_events_at ON nt_events (at);
"""


def _procrastinate(conn: psycopg.Connection[Any]) -> None:
    from procrastinate.schema import SchemaManager

    row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
    if row is not None and row[0] is not None:
        return
    conn.execute(SchemaManager.get_schema())


def _sql(text: str) -> Callable[[psycopg.Connection[Any]], None]:
    def apply(conn: psycopg.Connection[Any]) -> None:
        conn.execute(text.encode())

    return apply


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[psycopg.Connection[Any]], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "fleet store: fleets, tenants (one row each), shard runs", _sql(FLEET_SQL)),
    Migration(2, "job queue: procrastinate schema", _procrastinate),
    Migration(3, "usage monitoring: readings, events, deliveries, notices, cycles",
              _sql(USAGE_SQL)),
    Migration(4, "fleet-level settings (app revision, migration command)",
              _sql("ALTER TABLE nt_fleets ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'")),
    Migration(5, "queued operations and the engine's progress events", _sql(OPERATIONS_SQL)),
    Migration(7, "shard runs name their worker (stale stack locks judged by its heartbeat)",
              _sql("ALTER TABLE nt_runs ADD COLUMN worker_id bigint;"
                   " CREATE INDEX nt_runs_holder ON nt_runs (host, tier, shard, started_at)")),
    Migration(8, "checkpoints: a table of their own (issue 12)", _sql(CHECKPOINTS_SQL)),
)
LATEST = max(m.version for m in MIGRATIONS)


def current_version(conn: psycopg.Connection[Any]) -> int:
    """0 on an empty database."""
    row = conn.execute("SELECT to_regclass('neon_tenants_schema')").fetchone()
    if row is None or row[0] is None:
        return 0
    got = conn.execute("SELECT coalesce(max(version), 0) FROM neon_tenants_schema").fetchone()
    return int(got[0]) if got else 0


def migrate(conninfo: str) -> list[Migration]:
    """Apply what is missing; returns the migrations applied now (empty when up to date)."""
    applied: list[Migration] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for step in MIGRATIONS:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS neon_tenants_schema ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                # by version, not by "max": migrations landed out of order still apply
                done = conn.execute(
                    "SELECT 1 FROM neon_tenants_schema WHERE version = %s", (step.version,)
                ).fetchone()
                if done is not None:
                    continue
                step.apply(conn)
                conn.execute(
                    "INSERT INTO neon_tenants_schema (version, name) VALUES (%s, %s)",
                    (step.version, step.name),
                )
                applied.append(step)
    return applied
