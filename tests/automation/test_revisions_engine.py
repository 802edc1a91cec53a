"""Compound checkpoints, rollback and fleet-wide migrations through FleetManager, the real
engine, the pulumi-command plugin and the real-Postgres emulator (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from neon_tenants.automation import FleetManager, InvalidRequest, StackProgress

from .conftest import Recorder, connect, make_manager

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]

# The side effect each migration leaves in the tenant's own database: one row per run. It
# prints the connection string on purpose: the recorded stdout must not keep it in plaintext.
# r3 breaks mig-a (half-way: a row is written first) while the file `broken` exists.
def migrate_command(broken: Path) -> str:
    return (
        'psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 '
        '-c "create table if not exists migrations_run (revision text not null)" '
        "-c \"insert into migrations_run values ('$NEON_TENANTS_APP_REVISION')\" "
        "&& echo \"migrated with $DATABASE_URL\" "
        '&& if [ "$NEON_TENANTS_APP_REVISION" = r3 ] && [ "$NEON_TENANTS_TENANT" = mig-a ] '
        f"&& [ -e {broken} ]; then "
        "psql \"$DATABASE_URL\" -q -c \"insert into notes values ('half-migrated')\"; "
        "echo 'r3 breaks mig-a' >&2; exit 1; fi"
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("revisions")


@pytest.fixture(scope="module")
def fm(emulator: Any, root: Path) -> Iterator[FleetManager]:
    with make_manager(root, emulator, Recorder(), archive=False) as manager:
        yield manager


def _notes(uri: str) -> list[str]:
    with connect(uri) as db:
        return [r[0] for r in db.execute("select body from notes order by body")]


def _runs(fm: FleetManager, tenant: str) -> dict[str, int]:
    with connect(fm.show(tenant).connection_uri.get_secret_value()) as db:
        rows = db.execute("select revision, count(*) from migrations_run group by revision")
        return {r[0]: int(r[1]) for r in rows}


def test_checkpoint_then_writes_then_rollback_restores_rows_revision_and_metadata(
    fm: FleetManager, emulator: Any, root: Path
) -> None:
    tenant = "cp-a"
    uri = fm.provision(tenant, "pro").connection_uri.get_secret_value()
    with connect(uri) as db:
        db.execute("create table notes (body text)")
        db.execute("insert into notes values ('A')")

    cp = fm.checkpoint(tenant, "before-b", app_revision="v7", metadata={"run": "r-1", "step": 3})
    with connect(uri) as db:
        db.execute("insert into notes values ('B')")
    assert _notes(uri) == ["A", "B"]

    # recorded with the fleet: a new manager (nothing in memory) and the stack output see it
    with make_manager(root, emulator, Recorder(), archive=False) as other:
        assert other.checkpoints(tenant) == [cp]
        stack = other.show(tenant).stack
        [out] = other._outputs(stack)[tenant]["checkpoints"]
    assert (out["label"], out["app_revision"], out["metadata"]) == ("before-b", "v7", cp.metadata)

    result = fm.rollback(tenant, "before-b")
    assert (result.app_revision, result.metadata) == ("v7", {"run": "r-1", "step": 3})
    assert _notes(result.connection.connection_uri.get_secret_value()) == ["A"]

    with pytest.raises(InvalidRequest, match="checkpoint label"):
        fm.checkpoint(tenant, "Bad Label!")


def _ups(fm: FleetManager) -> int:
    """Engine `up` runs so far (the manager's recorder)."""
    events = getattr(fm.on_event, "events", [])
    return sum(1 for e in events if isinstance(e, StackProgress)
               and e.phase == "engine_started" and e.message == "up")


def test_migrations_run_once_per_revision_and_a_failing_canary_stops_the_rollout(
    fm: FleetManager, root: Path
) -> None:
    broken = root / "broken"
    broken.touch()
    fm._edit_fleet("free", lambda f: f.model_copy(
        update={"migration_command": migrate_command(broken), "app_revision": "r1"}))
    tenants = ["mig-a", "mig-b", "mig-c"]
    for t in tenants:
        uri = fm.provision(t, "free").connection_uri.get_secret_value()
        with connect(uri) as db:
            db.execute("create table notes (body text)")
            db.execute("insert into notes values ('before')")
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1}] * 3

    fm.up("free")  # unchanged: nothing runs
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1}] * 3

    assert fm.preview(["free"]).migrations == []  # nothing would migrate
    # the CI preview of a revision bump lists every tenant that would migrate, from -> to
    fm._edit_fleet("free", lambda f: f.model_copy(update={"app_revision": "r2"}))
    md = fm.preview(["free"]).to_markdown()
    fm._edit_fleet("free", lambda f: f.model_copy(update={"app_revision": "r1"}))
    for t in tenants:
        assert f"- `{t}` (free, `free`): `r1` → `r2`" in md
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1}] * 3  # a preview runs nothing

    # two waves (the canary, then the other two together): per wave one rotation `up` (the
    # free tier keeps one snapshot), one checkpoint `up`, one migrate `up`
    ups = _ups(fm)
    ok = fm.rollout("free", "r2", canary=1)
    assert ok.ok and ok.migrated == tenants and ok.waves == 2
    assert _ups(fm) - ups <= 2 * 3
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 3
    assert fm.fleet("free").app_revision == "r2"
    fm.up("free")
    assert fm.rollout("free", "r2").migrated == tenants  # again: every tenant done, no run
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 3

    failed = fm.rollout("free", "r3", canary=1)
    assert failed.failed == "mig-a" and failed.migrated == []
    assert failed.not_migrated == ["mig-b", "mig-c"]
    assert "r3 breaks mig-a" in (failed.error or "")
    pw = urlsplit(fm.show("mig-a").connection_uri.get_secret_value()).password or "?"
    assert pw not in (failed.error or "")  # the migration printed its URL: scrubbed
    fleet = fm.fleet("free")
    assert [fleet.revision_of(fleet.require(t)) for t in tenants] == ["r2"] * 3
    # the failed tenant's rows are as before the migration; the others never ran r3
    assert _notes(fm.show("mig-a").connection_uri.get_secret_value()) == ["before"]
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1}] * 3

    # one wave of three, failing on one: only that tenant is rolled back, the wave's others
    # stay migrated (their r3 rows are there: no restore touched them)
    wave = fm.rollout("free", "r3", canary=0)
    assert (wave.failed, list(wave.failures), wave.waves) == ("mig-a", ["mig-a"], 1)
    assert wave.migrated == ["mig-b", "mig-c"] and wave.not_migrated == []
    assert pw not in str(wave.failures)
    fleet = fm.fleet("free")
    assert [fleet.revision_of(fleet.require(t)) for t in tenants] == ["r2", "r3", "r3"]
    assert fleet.app_revision == "r2"
    assert _notes(fm.show("mig-a").connection_uri.get_secret_value()) == ["before"]
    assert [_runs(fm, t) for t in tenants] == [
        {"r1": 1, "r2": 1}, {"r1": 1, "r2": 1, "r3": 1}, {"r1": 1, "r2": 1, "r3": 1}]

    # fixed: the rerun continues where it stopped (mig-a migrates, the others run nothing)
    broken.unlink()
    done = fm.rollout("free", "r3", canary=0)
    assert done.ok and done.migrated == tenants
    assert [_runs(fm, t) for t in tenants] == [{"r1": 1, "r2": 1, "r3": 1}] * 3
    assert fm.fleet("free").app_revision == "r3"
    assert not fm.preview(["free"]).has_changes  # state, fleet and program agree

    # no connection string in plaintext in the state, although the migration printed it
    state = "\n".join(p.read_text() for p in (root / "state").rglob("*.json"))
    for t in tenants:
        uri = fm.show(t).connection_uri.get_secret_value()
        assert uri not in state and (urlsplit(uri).password or "?") not in state


def test_a_first_migration_command_comes_in_through_a_rollout_that_checkpoints_first(
    fm: FleetManager, root: Path
) -> None:
    """Tenants already on r1 with no command: the fleet's first command would run on each of
    them (its Command's create), so `set_fleet_revision` refuses it and `rollout(...,
    migration_command=)` brings it in, a checkpoint first, once per tenant."""
    from neon_tenants.automation._rollout import checkpoint_label

    fm._edit_fleet("pro", lambda f: f.model_copy(update={"app_revision": "r1"}))
    tenants = ["cmd-a", "cmd-b"]
    for t in tenants:
        fm.provision(t, "pro")
    command = migrate_command(root / "never")
    with pytest.raises(InvalidRequest, match="migration_command") as refused:
        fm.set_fleet_revision("pro", migration_command=command)
    assert "--migration-command" in str(refused.value)
    assert fm.fleet("pro").migration_command is None  # refused: nothing written

    everyone = sorted(t.id for t in fm.fleet("pro").tenants)  # with the module's others
    done = fm.rollout("pro", "r1", canary=1, migration_command=command)
    assert done.ok and done.migrated == everyone and done.waves == 2
    assert [_runs(fm, t) for t in everyone] == [{"r1": 1}] * len(everyone)  # once each
    fleet = fm.fleet("pro")
    assert (fleet.app_revision, fleet.migration_command) == ("r1", command)
    assert {(t.app_revision, t.migration_command) for t in fleet.tenants} == {(None, None)}
    for t in tenants:  # the checkpoint taken before the command ran, not an older `pre-r1`
        assert [(c.label, c.app_revision) for c in fm.checkpoints(t)] == [
            (checkpoint_label("r1", command), "r1")]

    again = fm.rollout("pro", "r1", migration_command=command)
    assert again.ok and again.waves == 0
    assert [_runs(fm, t) for t in everyone] == [{"r1": 1}] * len(everyone)
    assert not fm.preview(["pro"]).has_changes
