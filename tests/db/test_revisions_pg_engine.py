"""Issue 12 in PostgreSQL mode: checkpoints, rollback, rollout and delete-with-archive with the
fleet in the PostgreSQL store (real PostgreSQL 15: rows, `nt_fleets.settings`,
`nt_checkpoints`, and the Pulumi state), through FleetManager, the real engine, the
pulumi-command plugin and the real-Postgres emulator. `FleetManager(run_here=True)` is what
a worker runs a queued operation with: the PostgreSQL store, the engine in this process."""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from neon_tenants.archive import ArchiveSettings, read_manifest
from neon_tenants.automation import FleetManager
from neon_tenants.db.fleet_view import PostgresFleetView
from neon_tenants.db.store import PostgresFleetStore
from tests.automation.conftest import Recorder, connect

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]

# one row per run in the tenant's own database; r3 fails on pg-a after a half-done write
MIGRATE = (
    'psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 '
    '-c "create table if not exists migrations_run (revision text not null)" '
    "-c \"insert into migrations_run values ('$NEON_TENANTS_APP_REVISION')\" "
    '&& if [ "$NEON_TENANTS_APP_REVISION" = r3 ] && [ "$NEON_TENANTS_TENANT" = pg-a ]; then '
    "psql \"$DATABASE_URL\" -q -c \"insert into notes values ('half-migrated')\"; "
    "echo 'r3 breaks pg-a' >&2; exit 1; fi"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("revisions-pg")


PASSPHRASE = "revisions-pg-secret"


@pytest.fixture(scope="module")
def rows(migrated_url: str) -> Iterator[PostgresFleetStore]:
    store = PostgresFleetStore(migrated_url, max_size=2)
    yield store
    store.close()


@pytest.fixture(scope="module")
def pg_env(migrated_url: str) -> Iterator[None]:
    """PostgreSQL mode as a worker sees it: the URL in the environment, so the Pulumi state
    lives in the database too (no file backend from the shell's environment)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PULUMI_BACKEND_URL", raising=False)
        mp.setenv("NEON_TENANTS_DATABASE_URL", migrated_url)
        mp.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
        yield


def _manager(root: Path, emu: Any, url: str) -> FleetManager:
    return FleetManager(
        root / "stacks", work_dir=root / "work", lock_dir=root / "locks",
        neon_env={**emu.client_env, "NEON_TENANTS_DATABASE_URL": url},  # the store's too
        archive=ArchiveSettings(dir=root / "archives"), run_here=True, on_event=Recorder(),
    )


@pytest.fixture(scope="module")
def fm(emulator: Any, root: Path, migrated_url: str, pg_env: None) -> Iterator[FleetManager]:
    with _manager(root, emulator, migrated_url) as manager:
        assert manager.queue is None and isinstance(manager.store, PostgresFleetView)
        yield manager


def _sql(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def _state_text(url: str) -> str:
    """Every blob of the engine's PostgreSQL backend (`pulumi_state`: base64 in JSON, some
    gzipped), decoded: checkpoints, history, backups."""
    texts = []
    for (data,) in _sql(url, "SELECT data FROM pulumi_state"):
        blob = base64.b64decode(data["data"])
        if blob[:2] == b"\x1f\x8b":
            blob = gzip.decompress(blob)
        texts.append(blob.decode(errors="replace"))
    return "\n".join(texts)


def _notes(uri: str) -> list[str]:
    with connect(uri) as db:
        return [r[0] for r in db.execute("select body from notes order by body")]


def _runs(fm: FleetManager, tenant: str) -> dict[str, int]:
    with connect(fm.show(tenant).connection_uri.get_secret_value()) as db:
        found = db.execute("select revision, count(*) from migrations_run group by revision")
        return {r[0]: int(r[1]) for r in found}


def test_checkpoint_rollback_and_delete_with_archive_keep_the_records_in_their_table(
    fm: FleetManager, emulator: Any, root: Path, rows: PostgresFleetStore, migrated_url: str
) -> None:
    tenant = "pg-cp"
    uri = fm.provision(tenant, "pro").connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (body text)")
        db.execute("insert into notes values ('A')")
    cp = fm.checkpoint(tenant, "before-b", app_revision="v7", metadata={"run": "r-1", "step": 3})
    with connect(uri) as db:
        db.execute("insert into notes values ('B')")

    # recorded in nt_checkpoints (not the row's jsonb), read back by a new manager
    assert _sql(migrated_url, "SELECT tier, label, snapshot, app_revision, metadata"
                " FROM nt_checkpoints WHERE tenant_id = %s", tenant) == [
        ("pro", "before-b", "cp-before-b", "v7", {"run": "r-1", "step": 3})]
    [(spec,)] = _sql(migrated_url, "SELECT spec FROM nt_tenants WHERE tenant_id = %s", tenant)
    assert "checkpoints" not in spec and [s["name"] for s in spec["snapshots"]] == [cp.snapshot]
    with _manager(root, emulator, migrated_url) as other:
        assert other.checkpoints(tenant) == [cp]
        [out] = other._outputs(other.show(tenant).stack)[tenant]["checkpoints"]
    assert (out["label"], out["metadata"]) == ("before-b", cp.metadata)  # and the stack output

    result = fm.rollback(tenant, "before-b")
    assert (result.app_revision, result.metadata) == ("v7", {"run": "r-1", "step": 3})
    assert _notes(result.connection.connection_uri.get_secret_value()) == ["A"]

    # delete: archive first, then the project; the records stay for audit, retired
    fm.delete(tenant)
    [manifest_path] = fm.archives(tenant)
    manifest = read_manifest(manifest_path)
    archive = manifest.archive_path(manifest_path)
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == manifest.sha256
    assert rows.get("pro", tenant) is None and fm.locate(tenant) is None
    assert rows.checkpoints(tenant) == []
    [history] = rows.checkpoint_history(tenant)
    assert (history.checkpoint, history.retired_why) == (cp, "deleted")


def test_rollout_in_postgres_mode_leaves_no_pins_and_a_failing_canary_stops_it(
    fm: FleetManager, rows: PostgresFleetStore, migrated_url: str, root: Path
) -> None:
    # fleet-level revision and command: in nt_fleets.settings, not per tenant
    fm._edit_fleet("free", lambda f: f.model_copy(
        update={"migration_command": MIGRATE, "app_revision": "r1"}))
    assert rows.fleet_settings("free") == {"migration_command": MIGRATE, "app_revision": "r1"}
    tenants = ["pg-a", "pg-b"]
    for t in tenants:
        uri = fm.provision(t, "free").connection_uri.get_secret_value()
        with connect(uri) as db:
            db.execute("create table notes (body text)")
            db.execute("insert into notes values ('before')")
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1}] * 2

    ok = fm.rollout("free", "r2", canary=1)
    assert ok.ok and ok.migrated == tenants
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 2  # once per revision
    assert rows.fleet_settings("free")["app_revision"] == "r2"
    # applied in this process: the rows say so (a worker would find nothing pending)
    assert [rows.get("free", t).status for t in tenants] == ["ready", "ready"]
    # no per-tenant pins left in the rows (same result as the file store)
    assert [r[0].get("app_revision") for r in _sql(
        migrated_url, "SELECT spec FROM nt_tenants WHERE tier = 'free' ORDER BY tenant_id")
    ] == [None, None]
    assert [c.label for c in fm.checkpoints("pg-a")] == ["pre-r2"]  # from nt_checkpoints
    fm.up("free")  # unchanged: nothing runs
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 2

    failed = fm.rollout("free", "r3", canary=1)
    assert (failed.failed, failed.migrated, failed.not_migrated) == ("pg-a", [], ["pg-b"])
    assert "r3 breaks pg-a" in (failed.error or "")
    pw = urlsplit(fm.show("pg-a").connection_uri.get_secret_value()).password or "?"
    assert pw not in (failed.error or "")
    fleet = fm.fleet("free")
    assert fleet.app_revision == "r2"
    assert [fleet.revision_of(fleet.require(t)) for t in tenants] == ["r2", "r2"]
    # pg-a's rows are as before the migration (rolled back to its checkpoint); pg-b never ran
    assert _notes(fm.show("pg-a").connection_uri.get_secret_value()) == ["before"]
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 2
    assert [c.label for c in fm.checkpoints("pg-a")] == ["pre-r3"]  # free: one snapshot slot
    assert [h.retired_why for h in rows.checkpoint_history("pg-a")] == ["dropped", None]

    state = _state_text(migrated_url)
    assert "pg-a-migrate" in state  # the stacks' state is in the database
    for t in tenants:
        uri = fm.show(t).connection_uri.get_secret_value()
        assert uri not in state and (urlsplit(uri).password or "?") not in state
