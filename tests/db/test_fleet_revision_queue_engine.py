"""PostgreSQL mode with workers (issue 12): a fleet-level edit through
FleetManager.set_fleet_revision makes the rows that follow the fleet pending and queues their
shards for a `neon-tenants worker` process (its own work dir and HOME); a new revision while
a migration command is in force is refused (it would migrate without a checkpoint). A rollout
is queued as one operation that the worker runs (one per tier at a time): each tenant
migrates once, after its checkpoint, and no pins are left behind. Real
PostgreSQL 15, the real engine and the pulumi-command plugin, the metadata emulator (the
migration's side effect is a line in a log file)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import (
    FleetManager,
    InvalidRequest,
    OperationInProgress,
    ProgressEvent,
)
from neon_tenants.fleet.sharding import shard_of
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs._tasks import TASK_NAME
from tests.db._hosts import Platform, hosts

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SHARDS = 2


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with hosts(fresh_db, metadata_emulator, tmp_path_factory, shards=SHARDS, workers=1) as p:
        yield p


def _last_job(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM procrastinate_jobs").fetchone()
    assert row is not None
    return int(row[0])


def _shard_jobs_since(url: str, job: int) -> list[tuple[str, int]]:
    """The shard runs queued after job `job` (done or not), as (tier, shard)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT args FROM procrastinate_jobs WHERE id > %s AND task_name = %s ORDER BY id",
            (job, TASK_NAME),
        ).fetchall()
    return sorted((r[0]["tier"], int(r[0]["shard"])) for r in rows)


def _operations(url: str, kind: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, args->>'revision' FROM nt_operations WHERE kind = %s ORDER BY id",
            (kind,),
        ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _runs(log: Path) -> Counter[str]:
    return Counter(log.read_text().split("\n")[:-1]) if log.exists() else Counter()


def test_fleet_settings_queue_the_shards_and_a_queued_rollout_migrates_each_tenant_once(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = platform.env("backend")
    for key in ("HOME", "NEON_TENANTS_DATABASE_URL", "PULUMI_CONFIG_PASSPHRASE",
                "NEON_TENANTS_ARCHIVE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    log = tmp_path / "migrations.log"
    command = f'echo "$NEON_TENANTS_TENANT $NEON_TENANTS_APP_REVISION" >> {log}'
    tenants = ["rev-a", "rev-c", "rev-d"]  # rev-c gets pinned
    unpinned = ["rev-a", "rev-d"]
    assert len({shard_of(t, SHARDS) for t in unpinned}) == SHARDS  # both shards take part
    events: list[ProgressEvent] = []
    with FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work", on_event=events.append,
                      neon_env=platform.emu.client_env, default_shards={"free": SHARDS}) as fm:
        fm.set_fleet_revision("free", app_revision="r1", migration_command=command)
        for t in tenants:
            fm.provision(t, "free", wait=False)
        assert [fm.wait(t, 300).status for t in tenants] == ["ready"] * 3
        assert _runs(log) == Counter(f"{t} r1" for t in tenants)

        queue = fm.queue
        assert queue is not None
        queue.request("free", TenantSpec(id="rev-c", app_revision="r1"))  # pinned
        assert fm.wait("rev-c", 300).status == "ready"
        pinned = queue.store.get("free", "rev-c")

        # a new revision while the command is in force would migrate without a checkpoint
        # (issue 12): refused before any write or job, `rollout` named as the way
        last_job = _last_job(platform.url)
        with pytest.raises(InvalidRequest) as refused:
            fm.set_fleet_revision("free", app_revision="r2")
        assert refused.value.http_status == 422
        assert "app_revision" in str(refused.value) and "tier free" in str(refused.value)
        assert "rollout --tier free --revision r2" in str(refused.value)
        assert fm.fleet("free").app_revision == "r1"
        assert [fm.status(t).status for t in tenants] == ["ready"] * 3
        assert _shard_jobs_since(platform.url, last_job) == []

        # a new command alone (the public API, CLI `fleet set`) makes the rows pending and
        # queues their shards; the revision is the only trigger: nothing runs
        fm.set_fleet_revision("free", migration_command=f"{command} # v2")
        assert {fm.status(t).status for t in unpinned} <= {"pending", "applying"}
        assert _shard_jobs_since(platform.url, last_job) == [("free", 0), ("free", 1)]
        assert [fm.wait(t, 300).status for t in tenants] == ["ready"] * 3
        assert _runs(log) == Counter(f"{t} r1" for t in tenants)
        # rev-c pins its revision, not its command: its row took the new command too
        assert queue.store.get("free", "rev-c").version > pinned.version
        assert fm.fleet("free").migration_command == f"{command} # v2"

        # a rollout is queued (one operation) and a worker runs it: every tenant (the pinned
        # one too) migrates once, and no pin is left in the rows
        queued = fm.rollout("free", "r3", canary=1, wait=False)
        assert queued.status in ("queued", "running") and queued.result is None
        with pytest.raises(OperationInProgress) as busy:  # one rollout per tier at a time
            fm.rollout("free", "r4", wait=False)
        assert busy.value.http_status == 409 and f"rollout {queued.operation}" in str(busy.value)
        done = fm.wait_rollout(queued.operation, 300)
        assert done.ok and sorted(done.migrated) == tenants and done.waves == 3
        assert fm.rollout_status(queued.operation).result == done
        op = queue.ops.get(queued.operation)
        assert op is not None and op.attempts == 1
        assert op.host is not None and not op.host.endswith(f":{os.getpid()}")  # a worker's
        assert _operations(platform.url, "rollout") == [("done", "r3")]  # r4 never recorded
        waves = [e.message for e in events if getattr(e, "message", "").startswith("wave ")]
        assert [w.split(":")[0] for w in waves] == ["wave 1/3", "wave 2/3", "wave 3/3"]
        assert _runs(log) == Counter([*(f"{t} r1" for t in tenants),
                                      *(f"{t} r3" for t in tenants)])
        assert fm.fleet("free").app_revision == "r3"
        records = [queue.store.get("free", t) for t in tenants]
        assert [r.spec.app_revision for r in records] == [None, None, None]
        assert [r.status for r in records] == ["ready"] * 3  # nothing left for a worker
        assert [c.label for c in fm.checkpoints("rev-a")] == ["pre-r3"]
        assert not (tmp_path / "stacks" / "fleets").exists()  # nothing went to fleet files

        again = fm.rollout("free", "r3")  # wait=True through the queue: nothing left to do
        assert again.ok and sorted(again.migrated) == tenants and again.waves == 0
        assert _runs(log)["rev-a r3"] == 1


def _stack_states(url: str) -> dict[str, dict[str, Any]]:
    """The engine's current state blobs of the free tier's shard stacks (and their .bak)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT key, data FROM pulumi_state WHERE key LIKE %s AND key NOT LIKE %s",
            ("%.pulumi/stacks/%free-0%", "%.pulumi/history/%"),
        ).fetchall()
    return {str(k): d for k, d in rows}


def _set_states(url: str, states: dict[str, dict[str, Any]]) -> None:
    from psycopg.types.json import Jsonb

    with psycopg.connect(url) as conn:
        for key, data in states.items():
            conn.execute("UPDATE pulumi_state SET data = %s WHERE key = %s", (Jsonb(data), key))


def test_a_queued_rollout_failing_on_an_engine_error_leaves_rows_failed_and_reruns(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Runs after the first test (its tenants at r3, the command set). Both shard stacks'
    states are unreadable, so the rollout's first engine `up` fails with no tenant to blame:
    the operation fails and no row is left `pending` with no job (they are `failed`, with the
    error); once the states are back, the same rollout reruns to the end."""
    import base64

    env = platform.env("backend")
    for key in ("HOME", "NEON_TENANTS_DATABASE_URL", "PULUMI_CONFIG_PASSPHRASE",
                "NEON_TENANTS_ARCHIVE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    with FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work",
                      neon_env=platform.emu.client_env, default_shards={"free": SHARDS}) as fm:
        tenants = sorted(t.id for t in fm.fleet("free").tenants)
        assert tenants and fm.fleet("free").app_revision == "r3"
        states = _stack_states(platform.url)
        assert len({k.split(".json")[0] for k in states}) == SHARDS, sorted(states)
        broken = {"data": base64.b64encode(b"{ not a checkpoint").decode()}
        _set_states(platform.url, {key: broken for key in states})
        try:
            last_job = _last_job(platform.url)
            queued = fm.rollout("free", "r4", canary=1, wait=False)
            with pytest.raises(Exception):  # noqa: B017 - the engine's error, translated
                fm.wait_rollout(queued.operation, 300)
            assert fm.rollout_status(queued.operation).status == "failed"
            statuses = {t: fm.status(t).status for t in tenants}
            assert "pending" not in statuses.values(), statuses  # nothing waits for no job
            assert "failed" in statuses.values(), statuses  # the wave's rows say why
            assert _shard_jobs_since(platform.url, last_job) == []
        finally:
            _set_states(platform.url, states)
        done = fm.rollout("free", "r4", canary=1)  # the rerun, through the queue
        assert done.ok and sorted(done.migrated) == tenants
        assert [fm.status(t).status for t in tenants] == ["ready"] * len(tenants)
        assert fm.fleet("free").app_revision == "r4"


def test_bad_fleet_settings_are_refused_before_any_write_or_job(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = platform.env("backend")
    for key in ("HOME", "NEON_TENANTS_DATABASE_URL", "PULUMI_CONFIG_PASSPHRASE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    with FleetManager(tmp_path / "stacks", work_dir=tmp_path / "work",
                      neon_env=platform.emu.client_env, default_shards={"free": SHARDS}) as fm:
        assert fm.queue is not None  # PostgreSQL mode
        before = fm.fleet("free")
        last_job = _last_job(platform.url)
        for kwargs, field in (({"app_revision": "r 9"}, "app_revision"),
                              ({"app_revision": "-r9"}, "app_revision"),
                              ({"migration_command": "  "}, "migration_command"),
                              ({}, "app_revision")):
            with pytest.raises(InvalidRequest) as refused:
                fm.set_fleet_revision("free", **kwargs)
            assert refused.value.http_status == 422
            assert field in str(refused.value) and "tier free" in str(refused.value)
        with pytest.raises(InvalidRequest, match="allowed: .*free"):
            fm.set_fleet_revision("nope", app_revision="r9")
        rollouts = _operations(platform.url, "rollout")
        for tier, revision, field in (("free", "r 9", "revision"), ("nope", "r9", "tier")):
            with pytest.raises(InvalidRequest, match=field):
                fm.rollout(tier, revision, wait=False)
        assert _operations(platform.url, "rollout") == rollouts  # nothing recorded
        after = fm.fleet("free")
        assert (after.app_revision, after.migration_command) == (before.app_revision,
                                                                 before.migration_command)
        assert [fm.status(t.id).status for t in after.tenants] == ["ready"] * len(after.tenants)
        assert _shard_jobs_since(platform.url, last_job) == []
