"""The fleet in PostgreSQL: one row per (tier, tenant), every call one short transaction.

Nothing rewrites a whole fleet (the file store's cost grows with the fleet: issue 11 measures
~4 s to load 30,000 tenants). A shard run reads only its shard's rows (indexed on
`(tier, shard)`), so building a shard's program costs the same at 1,000 or 30,000 tenants.

Status (`pending` -> `applying` -> `ready` | `failed`) and `version` make asynchronous runs
exact: a request bumps `version` and sets `pending`; a run snapshots the versions it
applies, and afterwards marks `ready` only rows whose version did not move meanwhile
(a change committed during a run stays `pending` for the next run). Rows with
`present = false` are removals: the program leaves them out and the run deletes the rows.

Compound checkpoints (issue 12) have a table of their own, `nt_checkpoints`, keyed by tenant
id: a spec's `checkpoints` are split off when its row is written (in the same transaction)
and put back when it is read, so every reader (FleetManager, a worker's shard run, export)
sees the same `TenantSpec` as in file mode. A checkpoint that leaves the spec (its snapshot
rotated out, its label recorded again) is *retired*, not deleted; so are a tenant's
checkpoints when its last row goes (the tenant was deleted): their snapshots are gone with
the project, but the records stay queryable for audit (`checkpoint_history`). An archive
(`neon_tenants.archive`) is what brings a deleted tenant's data back; a restored tenant
starts with no checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from neon_tenants.checkpoint import Checkpoint, CheckpointRecord
from neon_tenants.db._pool import PooledStore
from neon_tenants.db._url import scrub_for
from neon_tenants.fleet.sharding import shard_of
from neon_tenants.fleet.spec import FleetSpec, TenantSpec

Status = Literal["pending", "applying", "ready", "failed"]


class TenantRecord(BaseModel):
    """One tenant's row: its spec, where it lives, and how far its last request got."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tier: str
    shard: int
    spec: TenantSpec
    present: bool
    status: Status
    error: str | None
    version: int
    applied_version: int
    requested_at: datetime
    updated_at: datetime


class ShardSnapshot(BaseModel):
    """What one run applies: the shard's present tenants and every row's version."""

    model_config = ConfigDict(frozen=True)

    tier: str
    shard: int
    shards: int
    platform: str
    tenants: tuple[TenantSpec, ...]
    versions: dict[str, int]
    settings: dict[str, Any] = {}

    def fleet(self) -> FleetSpec:
        """The shard as a FleetSpec (only this shard's tenants) for `build_program`."""
        return FleetSpec(
            tier=self.tier, shards=self.shards, platform=self.platform, tenants=self.tenants,
            **self.settings,
        )


_FLEET_KEYS = ("tier", "shards", "platform", "tenants")


def _settings_json(fleet: FleetSpec) -> Jsonb:
    """The fleet-level fields other than shape and tenants (app revision, migration command)."""
    return Jsonb(fleet.model_dump(mode="json", exclude_defaults=True, exclude=set(_FLEET_KEYS)))


def _spec_json(spec: TenantSpec) -> Jsonb:
    """The row's spec: checkpoints live in `nt_checkpoints`, not in the jsonb."""
    return Jsonb(spec.model_dump(mode="json", exclude_defaults=True, exclude={"checkpoints"}))


Cursor = psycopg.Cursor[dict[str, Any]]
_CP_COLUMNS = "id, tenant_id, tier, label, snapshot, app_revision, metadata, created_at"


def _checkpoint(row: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(
        label=row["label"], snapshot=row["snapshot"], app_revision=row["app_revision"],
        metadata=row["metadata"], created_at=row["created_at"],
    )


def _live_checkpoints(cur: Cursor, tenants: Sequence[str]) -> dict[str, list[Checkpoint]]:
    """tenant -> its live checkpoints, in the order they were recorded (one query)."""
    found: dict[str, list[Checkpoint]] = {}
    if not tenants:
        return found
    rows = cur.execute(
        f"SELECT {_CP_COLUMNS} FROM nt_checkpoints WHERE tenant_id = ANY(%s)"
        " AND retired_at IS NULL ORDER BY id",
        (list(tenants),),
    ).fetchall()
    for row in rows:
        found.setdefault(row["tenant_id"], []).append(_checkpoint(row))
    return found


def _specs(cur: Cursor, raw: Sequence[Mapping[str, Any]]) -> list[TenantSpec]:
    """Rows' specs with their checkpoints put back from `nt_checkpoints`."""
    specs = [TenantSpec.model_validate(r) for r in raw]
    cps = _live_checkpoints(cur, [s.id for s in specs])
    return [s.model_copy(update={"checkpoints": tuple(cps[s.id])}) if s.id in cps else s
            for s in specs]


def _records(cur: Cursor, rows: Sequence[Mapping[str, Any]]) -> list[TenantRecord]:
    specs = _specs(cur, [r["spec"] for r in rows])
    return [TenantRecord.model_validate({**r, "spec": s}) for r, s in zip(rows, specs, strict=True)]


def _sync_all(cur: Cursor, tier: str, specs: Sequence[TenantSpec]) -> None:
    """`_sync_checkpoints` for the specs whose live checkpoints differ (one query for all)."""
    live = _live_checkpoints(cur, [s.id for s in specs])
    for spec in specs:
        if tuple(live.get(spec.id, ())) != spec.checkpoints:
            _sync_checkpoints(cur, tier, spec)


def _sync_checkpoints(cur: Cursor, tier: str, spec: TenantSpec) -> None:
    """Make the tenant's live checkpoints exactly `spec.checkpoints` (same transaction as the
    row write that declares their snapshots). Records that left the spec are retired; a
    record put back (a delete whose archive failed) is revived, not duplicated."""
    live = {
        r["label"]: (int(r["id"]), _checkpoint(r))
        for r in cur.execute(
            f"SELECT {_CP_COLUMNS} FROM nt_checkpoints WHERE tenant_id = %s"
            " AND retired_at IS NULL", (spec.id,),
        ).fetchall()
    }
    wanted = {c.label: c for c in spec.checkpoints}
    for label, (row_id, cp) in live.items():
        if wanted.get(label) != cp:
            cur.execute(
                "UPDATE nt_checkpoints SET retired_at = now(), retired_why = %s WHERE id = %s",
                ("replaced" if label in wanted else "dropped", row_id),
            )
    for cp in spec.checkpoints:
        if label_row := live.get(cp.label):
            if label_row[1] == cp:
                continue
        revived = cur.execute(
            "UPDATE nt_checkpoints SET retired_at = NULL, retired_why = NULL WHERE id = ("
            " SELECT id FROM nt_checkpoints WHERE tenant_id = %s AND label = %s"
            " AND snapshot = %s AND created_at = %s AND retired_why = 'deleted'"
            " ORDER BY id DESC LIMIT 1) RETURNING id",
            (spec.id, cp.label, cp.snapshot, cp.created_at),
        ).fetchone()
        if revived is None:
            cur.execute(
                "INSERT INTO nt_checkpoints (tenant_id, tier, label, snapshot, app_revision,"
                " metadata, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (spec.id, tier, cp.label, cp.snapshot, cp.app_revision, Jsonb(cp.metadata),
                 cp.created_at),
            )


def _retire_if_gone(cur: Cursor, tenant: str) -> None:
    """The tenant's last row went (deleted): its checkpoints are retired, kept for audit."""
    cur.execute(
        "UPDATE nt_checkpoints SET retired_at = now(), retired_why = 'deleted'"
        " WHERE tenant_id = %s AND retired_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM nt_tenants WHERE tenant_id = %s)",
        (tenant, tenant),
    )


def _declared(fleet: FleetSpec, spec: TenantSpec) -> tuple[str | None, str | None]:
    """The fleet-level fields as a run resolves them for the tenant."""
    return fleet.revision_of(spec), fleet.migration_of(spec)


def _effective(fleet: FleetSpec, spec: TenantSpec) -> TenantSpec:
    """What a shard run declares for the tenant: fleet-level fields resolved."""
    return spec.model_copy(update={
        "app_revision": fleet.revision_of(spec), "migration_command": fleet.migration_of(spec),
    })


class ShardCountChanged(ValueError):
    """`fleet import` of a tier whose file names another shard count than the database."""


class PostgresFleetStore(PooledStore):
    """Fleets of every tier in one database (`neon-tenants db migrate` creates the tables)."""

    def __init__(self, conninfo: str, *, max_size: int = 4) -> None:
        super().__init__(conninfo, max_size=max_size)
        self.conninfo = conninfo  # for the shard locks (automation/_locks.py), never printed
        self._scrub = scrub_for(conninfo)

    # -- fleets ---------------------------------------------------------------------------

    def ensure_fleet(self, tier: str, shards: int, platform: str = "nt") -> None:
        """Declare a tier's fleet (first one wins; `reshard` changes the shard count)."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO nt_fleets (tier, shards, platform) VALUES (%s, %s, %s)"
                " ON CONFLICT (tier) DO NOTHING",
                (tier, shards, platform),
            )

    def fleet_shape(self, tier: str) -> tuple[int, str] | None:
        """(shards, platform) of a tier, None when the tier has no fleet yet."""
        with self._tx() as cur:
            row = cur.execute(
                "SELECT shards, platform FROM nt_fleets WHERE tier = %s", (tier,)
            ).fetchone()
        return (int(row["shards"]), str(row["platform"])) if row else None

    def tiers(self) -> list[str]:
        with self._tx() as cur:
            return [r["tier"] for r in cur.execute("SELECT tier FROM nt_fleets ORDER BY tier")]

    def load_fleet(self, tier: str) -> FleetSpec | None:
        """The whole tier (export, audits); a shard run uses `shard_snapshot` instead."""
        shape = self.fleet_shape(tier)
        if shape is None:
            return None
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT spec FROM nt_tenants WHERE tier = %s AND present ORDER BY tenant_id",
                (tier,),
            ).fetchall()
            tenants = tuple(_specs(cur, [r["spec"] for r in rows]))
        return FleetSpec(
            tier=tier, shards=shape[0], platform=shape[1], tenants=tenants,
            **self.fleet_settings(tier),
        )

    def fleet_settings(self, tier: str) -> dict[str, Any]:
        """Fleet-level fields (app revision, migration command) as FleetSpec keywords."""
        with self._tx() as cur:
            row = cur.execute("SELECT settings FROM nt_fleets WHERE tier = %s", (tier,)).fetchone()
        return dict(row["settings"]) if row else {}

    def import_fleet(self, fleet: FleetSpec) -> int:
        """Upsert every tenant of a fleet file (one transaction); returns how many changed.

        Imported tenants are `ready` when the spec is unchanged, else `pending`: importing
        what a file-mode stack already applied does not queue work by itself (the caller
        queues the shards left with pending rows). A tier already in the database keeps its
        shard count: a different one is refused (`ShardCountChanged`), since shards change
        through `reshard` only (it moves the stacks' state); the import waits for a running
        reshard of the tier (its lock, shared, for this transaction).
        """
        changed = 0
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))",
                        ("nt-tier:" + fleet.tier,))
            row = cur.execute("SELECT shards FROM nt_fleets WHERE tier = %s FOR UPDATE",
                              (fleet.tier,)).fetchone()
            if row is not None and int(row["shards"]) != fleet.shards:
                raise ShardCountChanged(
                    f"tier {fleet.tier}: the fleet file says shards: {fleet.shards} but the "
                    f"database has {row['shards']}; fleet import never re-shards: run "
                    f"`neon-tenants reshard --tier {fleet.tier} --shards {fleet.shards}` "
                    f"first, or set shards: {row['shards']} in the file"
                )
            cur.execute(
                "INSERT INTO nt_fleets (tier, shards, platform, settings) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tier) DO UPDATE SET shards = excluded.shards,"
                " platform = excluded.platform, settings = excluded.settings, updated_at = now()",
                (fleet.tier, fleet.shards, fleet.platform, _settings_json(fleet)),
            )
            for spec in fleet.tenants:
                cur.execute(
                    "INSERT INTO nt_tenants (tier, tenant_id, shard, spec, status,"
                    " applied_version) VALUES (%s, %s, %s, %s, 'ready', 1)"
                    " ON CONFLICT (tier, tenant_id) DO UPDATE SET spec = excluded.spec,"
                    " shard = excluded.shard, present = true,"
                    " version = nt_tenants.version + 1, status = 'pending', updated_at = now()"
                    " WHERE nt_tenants.spec IS DISTINCT FROM excluded.spec"
                    " OR NOT nt_tenants.present",
                    (fleet.tier, spec.id, shard_of(spec.id, fleet.shards), _spec_json(spec)),
                )
                changed += cur.rowcount
            _sync_all(cur, fleet.tier, fleet.tenants)
        return changed

    def edit_fleet(
        self, tier: str, edit: Callable[[FleetSpec], FleetSpec]
    ) -> tuple[FleetSpec, list[int]]:
        """The whole tier through `edit`, in ONE transaction (fleet-level fields such as the
        app revision and the migration command: issue 12). Returns the fleet after the edit
        and the shards that now have pending rows (their runs must be queued).

        Only rows whose spec changes are written. A row becomes `pending` (version bumped)
        when what a run declares for it changes: its own spec, or a fleet-level field it
        does not override (a new fleet revision makes every unpinned tenant pending, and no
        pinned one). A change that declares the same (a rollout dropping pins equal to the
        new fleet revision) rewrites the spec alone: nothing to run. The shard count and
        platform change through `reshard` only.
        """
        with self._tx() as cur:
            shape = cur.execute(
                "SELECT shards, platform, settings FROM nt_fleets WHERE tier = %s FOR UPDATE",
                (tier,),
            ).fetchone()
            if shape is None:
                raise LookupError(f"tier {tier!r} has no fleet in the database")
            rows = cur.execute(
                "SELECT tenant_id, shard, spec FROM nt_tenants WHERE tier = %s AND present"
                " ORDER BY tenant_id FOR UPDATE",
                (tier,),
            ).fetchall()
            shard = {r["tenant_id"]: int(r["shard"]) for r in rows}
            before = FleetSpec(
                tier=tier, shards=int(shape["shards"]), platform=str(shape["platform"]),
                tenants=tuple(_specs(cur, [r["spec"] for r in rows])),
                **dict(shape["settings"] or {}),
            )
            after = edit(before)
            if (after.tier, after.shards, after.platform) != (tier, before.shards,
                                                               before.platform):
                raise ValueError(
                    f"tier {tier}: a fleet edit cannot change tier, shards or platform "
                    "(use `neon-tenants reshard` for the shard count)"
                )
            if after == before:
                return after, []
            if _settings_json(after).obj != _settings_json(before).obj:
                cur.execute(
                    "UPDATE nt_fleets SET settings = %s, updated_at = now() WHERE tier = %s",
                    (_settings_json(after), tier),
                )
            pending: set[int] = set()
            olds = {t.id: t for t in before.tenants}
            added: list[TenantSpec] = []
            bumped: list[str] = []  # spec unchanged, a fleet-level field it uses changed
            rewritten: list[tuple[TenantSpec, bool]] = []  # (spec, pending?)
            for spec in after.tenants:
                old = olds.pop(spec.id, None)
                if old is None:
                    added.append(spec)
                elif old == spec:
                    if _declared(before, old) != _declared(after, spec):
                        bumped.append(spec.id)
                else:
                    rewritten.append((spec, _effective(before, old) != _effective(after, spec)))
            # set-based and pipelined: a new fleet revision touches every unpinned row
            cur.executemany(
                "INSERT INTO nt_tenants (tier, tenant_id, shard, spec)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (tier, tenant_id) DO UPDATE"
                " SET spec = excluded.spec, present = true,"
                " version = nt_tenants.version + 1, status = 'pending', error = NULL,"
                " requested_at = now(), updated_at = now()",
                [(tier, t.id, shard_of(t.id, after.shards), _spec_json(t)) for t in added],
            )
            pending.update(shard_of(t.id, after.shards) for t in added)
            cur.execute(
                "UPDATE nt_tenants SET version = version + 1, status = 'pending', error = NULL,"
                " requested_at = now(), updated_at = now()"
                " WHERE tier = %s AND tenant_id = ANY(%s)",
                (tier, bumped),
            )
            pending.update(shard[t] for t in bumped)
            cur.executemany(
                "UPDATE nt_tenants SET spec = %s, updated_at = now(),"
                " version = version + CASE WHEN %s THEN 1 ELSE 0 END,"
                " status = CASE WHEN %s THEN 'pending' ELSE status END,"
                " requested_at = CASE WHEN %s THEN now() ELSE requested_at END"
                " WHERE tier = %s AND tenant_id = %s",
                [(_spec_json(t), due, due, due, tier, t.id) for t, due in rewritten],
            )
            pending.update(shard[t.id] for t, due in rewritten if due)
            cur.execute(  # tenants the edit left out: removals, as `remove`
                "UPDATE nt_tenants SET present = false, version = version + 1,"
                " status = 'pending', error = NULL, requested_at = now(), updated_at = now()"
                " WHERE tier = %s AND tenant_id = ANY(%s)",
                (tier, list(olds)),
            )
            pending.update(shard[t] for t in olds)
            _sync_all(cur, tier, [*added, *(t for t, _ in rewritten)])
        return after, sorted(pending)

    # -- one tenant -----------------------------------------------------------------------

    def get(self, tier: str, tenant: str) -> TenantRecord | None:
        with self._tx() as cur:
            row = cur.execute(
                "SELECT * FROM nt_tenants WHERE tier = %s AND tenant_id = %s", (tier, tenant)
            ).fetchone()
            return _records(cur, [row])[0] if row else None

    def locate(self, tenant: str) -> list[TenantRecord]:
        """Every tier holding the tenant: one, or two while a move is unfinished."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT * FROM nt_tenants WHERE tenant_id = %s ORDER BY tier", (tenant,)
            ).fetchall()
            return _records(cur, rows)

    def request(self, tier: str, spec: TenantSpec) -> TenantRecord:
        """Add or change a tenant: bump its version and mark it `pending` (unchanged specs
        of a present tenant are left alone, so a repeated request queues nothing new)."""
        return self.request_many(tier, [spec])[0]

    def request_default(self, tier: str, spec: TenantSpec) -> TenantRecord:
        """`request` of a tier's default spec (a provision that named none): a tenant present
        in the tier keeps its own spec (declared snapshots, dev branches, overrides,
        checkpoints) and is left unwritten, a failed one is retried as it stands (pending
        again); only an absent or removed tenant gets `spec` (issue 11: a repeated
        provision is idempotent, as with fleet files)."""
        with self._tx() as cur:
            row = cur.execute(
                "SELECT * FROM nt_tenants WHERE tier = %s AND tenant_id = %s FOR UPDATE",
                (tier, spec.id),
            ).fetchone()
            if row is None or not row["present"]:
                return self._upsert(cur, tier, [spec])[0]
            if row["status"] == "failed":
                row = cur.execute(
                    "UPDATE nt_tenants SET version = version + 1, status = 'pending',"
                    " error = NULL, requested_at = now(), updated_at = now()"
                    " WHERE tier = %s AND tenant_id = %s RETURNING *",
                    (tier, spec.id),
                ).fetchone()
                assert row is not None
            return _records(cur, [row])[0]

    def request_many(self, tier: str, specs: Sequence[TenantSpec]) -> list[TenantRecord]:
        """`request` for several tenants of a tier in ONE transaction (a bulk move, a
        rollout wave's pins)."""
        with self._tx() as cur:
            return self._upsert(cur, tier, specs)

    @staticmethod
    def _upsert(cur: Cursor, tier: str, specs: Sequence[TenantSpec]) -> list[TenantRecord]:
        shape = cur.execute(
            "SELECT shards FROM nt_fleets WHERE tier = %s", (tier,)
        ).fetchone()
        if shape is None:
            raise LookupError(f"tier {tier!r} has no fleet in the database")
        rows = []
        for spec in specs:
            shard = shard_of(spec.id, int(shape["shards"]))
            row = cur.execute(
                "INSERT INTO nt_tenants (tier, tenant_id, shard, spec)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tier, tenant_id) DO UPDATE SET spec = excluded.spec,"
                " present = true, version = nt_tenants.version + 1, status = 'pending',"
                " error = NULL, requested_at = now(), updated_at = now()"
                " WHERE nt_tenants.spec IS DISTINCT FROM excluded.spec"
                "  OR NOT nt_tenants.present OR nt_tenants.status = 'failed'"
                " RETURNING *",
                (tier, spec.id, shard, _spec_json(spec)),
            ).fetchone()
            if row is None:
                row = cur.execute(
                    "SELECT * FROM nt_tenants WHERE tier = %s AND tenant_id = %s",
                    (tier, spec.id),
                ).fetchone()
            assert row is not None
            rows.append(row)
        _sync_all(cur, tier, specs)
        return _records(cur, rows)

    def unfinished_shards(self, older_than: float) -> list[tuple[str, int]]:
        """(tier, shard) of every shard with a row `pending` or `applying` since more than
        `older_than` seconds: the workers' recovery loop queues a run for those that have
        no job (a replica died between a row's commit and queueing its run)."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT DISTINCT tier, shard FROM nt_tenants"
                " WHERE status IN ('pending', 'applying')"
                " AND requested_at < now() - make_interval(secs => %s) ORDER BY 1, 2",
                (older_than,),
            ).fetchall()
        return [(str(r["tier"]), int(r["shard"])) for r in rows]

    def remove(self, tier: str, tenant: str) -> TenantRecord | None:
        """Mark a tenant for removal (the next run of its shard deletes it, then the row)."""
        with self._tx() as cur:
            row = cur.execute(
                "UPDATE nt_tenants SET present = false, version = version + 1,"
                " status = 'pending', error = NULL, requested_at = now(), updated_at = now()"
                " WHERE tier = %s AND tenant_id = %s RETURNING *",
                (tier, tenant),
            ).fetchone()
            return _records(cur, [row])[0] if row else None

    def forget(self, tier: str, tenant: str) -> None:
        """Drop the row outright (a finished tier move leaves the source fleet)."""
        self.forget_many(tier, [tenant])

    def forget_many(self, tier: str, tenants: Sequence[str]) -> None:
        with self._tx() as cur:
            for tenant in tenants:
                cur.execute(
                    "DELETE FROM nt_tenants WHERE tier = %s AND tenant_id = %s", (tier, tenant)
                )
                _retire_if_gone(cur, tenant)

    # -- checkpoints (issue 12) -------------------------------------------------------------

    def checkpoints(self, tenant: str) -> list[Checkpoint]:
        """The tenant's live checkpoints, in the order they were recorded."""
        with self._tx() as cur:
            return _live_checkpoints(cur, [tenant]).get(tenant, [])

    def checkpoint_history(self, tenant: str) -> list[CheckpointRecord]:
        """Every checkpoint ever recorded for the tenant, retired ones included (also after
        the tenant was deleted: audit)."""
        with self._tx() as cur:
            rows = cur.execute(
                f"SELECT {_CP_COLUMNS}, recorded_at, retired_at, retired_why"
                " FROM nt_checkpoints WHERE tenant_id = %s ORDER BY id",
                (tenant,),
            ).fetchall()
        return [
            CheckpointRecord(
                tenant_id=r["tenant_id"], tier=r["tier"], checkpoint=_checkpoint(r),
                recorded_at=r["recorded_at"], retired_at=r["retired_at"],
                retired_why=r["retired_why"],
            )
            for r in rows
        ]

    # -- shard runs -----------------------------------------------------------------------

    def shard_snapshot(self, tier: str, shard: int, *, mark_applying: bool) -> ShardSnapshot:
        """The shard as of now; with `mark_applying`, its pending rows become `applying`."""
        with self._tx() as cur:
            shape = cur.execute(
                "SELECT shards, platform, settings FROM nt_fleets WHERE tier = %s", (tier,)
            ).fetchone()
            if shape is None:
                raise LookupError(f"tier {tier!r} has no fleet in the database")
            if mark_applying:
                cur.execute(
                    "UPDATE nt_tenants SET status = 'applying', updated_at = now()"
                    " WHERE tier = %s AND shard = %s AND status = 'pending'",
                    (tier, shard),
                )
            rows = cur.execute(
                "SELECT tenant_id, spec, present, version FROM nt_tenants"
                " WHERE tier = %s AND shard = %s ORDER BY tenant_id",
                (tier, shard),
            ).fetchall()
            tenants = tuple(_specs(cur, [r["spec"] for r in rows if r["present"]]))
        return ShardSnapshot(
            tier=tier,
            shard=shard,
            shards=int(shape["shards"]),
            platform=str(shape["platform"]),
            tenants=tenants,
            versions={r["tenant_id"]: int(r["version"]) for r in rows},
            settings=dict(shape["settings"] or {}),
        )

    def finish_run(self, snap: ShardSnapshot, failed: Mapping[str, str]) -> None:
        """Record a run's outcome for the versions it applied (others stay `pending`).

        Tenants in `failed` (id -> error) are `failed`; the rest of the shard is `ready`,
        and applied removals are deleted.
        """
        with self._tx() as cur:
            for tenant, version in snap.versions.items():
                error = failed.get(tenant)
                cur.execute(
                    "DELETE FROM nt_tenants WHERE tier = %s AND tenant_id = %s"
                    " AND version = %s AND NOT present AND %s",
                    (snap.tier, tenant, version, error is None),
                )
                if cur.rowcount:
                    _retire_if_gone(cur, tenant)
                cur.execute(
                    "UPDATE nt_tenants SET status = %s, error = %s, updated_at = now(),"
                    " applied_version = CASE WHEN %s THEN version ELSE applied_version END"
                    " WHERE tier = %s AND tenant_id = %s AND version = %s",
                    (
                        "failed" if error else "ready",
                        self._scrub(error) if error else None,
                        error is None,
                        snap.tier,
                        tenant,
                        version,
                    ),
                )

    def mark_applied(
        self, tier: str, specs: list[TenantSpec], fleet: FleetSpec | None = None
    ) -> None:
        """Rows whose spec is still exactly what an in-process `up` applied become `ready`
        (a request made meanwhile changed the spec, so it stays `pending` for its run).
        With `fleet` (what the `up` was built from), only while the fleet-level fields are
        still the ones applied: a fleet revision edited meanwhile leaves the rows `pending`."""
        settings = None if fleet is None else _settings_json(fleet)
        with self._tx() as cur:
            for spec in specs:
                cur.execute(
                    "UPDATE nt_tenants SET status = 'ready', error = NULL,"
                    " applied_version = version, updated_at = now()"
                    " WHERE tier = %s AND tenant_id = %s AND present AND spec = %s"
                    " AND status <> 'ready' AND (%s::jsonb IS NULL OR %s::jsonb ="
                    "  (SELECT settings FROM nt_fleets WHERE tier = %s))",
                    (tier, spec.id, _spec_json(spec), settings, settings, tier),
                )

    def release_applying(self, tier: str, shard: int) -> None:
        """Back to `pending` after a run that died or failed as a whole (retried later)."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_tenants SET status = 'pending', updated_at = now()"
                " WHERE tier = %s AND shard = %s AND status = 'applying'",
                (tier, shard),
            )

    def has_pending(self, tier: str, shard: int) -> bool:
        with self._tx() as cur:
            row = cur.execute(
                "SELECT EXISTS (SELECT 1 FROM nt_tenants WHERE tier = %s AND shard = %s"
                " AND status IN ('pending', 'applying'))",
                (tier, shard),
            ).fetchone()
        return bool(row and next(iter(row.values())))

    # -- run records (engine runs per shard: `doctor`, benchmarks, lock forensics) ----------

    def record_run_start(
        self, tier: str, shard: int, job_id: int | None, host: str, pid: int, tenants: int
    ) -> int:
        # the worker running the job (its heartbeat tells other hosts whether the run's
        # stack lock has a live holder: automation/_backend_locks.RunHolders)
        with self._tx() as cur:
            row = cur.execute(
                "INSERT INTO nt_runs (tier, shard, job_id, host, pid, tenants, worker_id)"
                " VALUES (%s, %s, %s, %s, %s, %s,"
                " (SELECT worker_id FROM procrastinate_jobs WHERE id = %s)) RETURNING id",
                (tier, shard, job_id, host, pid, tenants, job_id),
            ).fetchone()
        assert row is not None
        return int(row["id"])

    def record_run_end(self, run_id: int, outcome: str) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_runs SET finished_at = now(), outcome = %s WHERE id = %s",
                (outcome, run_id),
            )

    # -- resharding -------------------------------------------------------------------------

    @contextmanager
    def tier_lock(self, tier: str, *, exclusive: bool) -> Iterator[None]:
        """Shard runs hold it shared; `reshard` holds it exclusive (session advisory lock on
        a connection kept for the duration), so no run sees a half-moved tier."""
        fn = "pg_advisory_lock" if exclusive else "pg_advisory_lock_shared"
        with self._pool.connection() as conn:
            conn.execute(f"SELECT {fn}(hashtext(%s))", ("nt-tier:" + tier,))
            try:
                yield
            finally:
                unlock = "pg_advisory_unlock" if exclusive else "pg_advisory_unlock_shared"
                conn.execute(f"SELECT {unlock}(hashtext(%s))", ("nt-tier:" + tier,))

    def set_shards(self, tier: str, shards: int) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_fleets SET shards = %s, updated_at = now() WHERE tier = %s",
                (shards, tier),
            )

    def placements(self, tier: str) -> dict[str, int]:
        """tenant -> the shard whose stack holds its resources (present or not)."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT tenant_id, shard FROM nt_tenants WHERE tier = %s", (tier,)
            ).fetchall()
        return {r["tenant_id"]: int(r["shard"]) for r in rows}

    def set_shard(self, tier: str, tenant: str, shard: int) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE nt_tenants SET shard = %s, updated_at = now()"
                " WHERE tier = %s AND tenant_id = %s",
                (shard, tier, tenant),
            )
