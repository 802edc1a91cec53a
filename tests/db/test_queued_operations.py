"""Every FleetManager operation through the queue in PostgreSQL mode (issue 11).

The backend (this process) never runs the engine: each call records an operation and a
`run_operation` job; two `neon-tenants worker` processes (own HOME and work dir, sharing
only the database and the metadata emulator) run them. `wait=False` returns a status at
once, `wait` follows it; the effects are checked in the emulator through its API.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import (
    ArchiveFailed,
    DeploymentFailed,
    FleetManager,
    InvalidRequest,
    LimitsExceeded,
    TenantNotFound,
)
from neon_tenants.automation.events import ResourceStep
from neon_tenants.fleet.sharding import shard_of
from tests.db._hosts import Platform, hosts

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SHARDS = 3
# the archive step of a delete, as a platform would configure it (a copy to object storage);
# it fails for the tenants the test marks, like an unreachable bucket
ARCHIVE = (
    'if [ -e "$NEON_TENANTS_ARCHIVE_DIR/fail-$NEON_TENANTS_TENANT" ]; then '
    'echo "bucket unreachable" >&2; exit 3; fi; echo dump > "$NEON_TENANTS_ARCHIVE_FILE"'
)


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    archive = tmp_path_factory.mktemp("archive")
    extra = {"NEON_TENANTS_ARCHIVE": "on", "NEON_TENANTS_ARCHIVE_DIR": str(archive),
             "NEON_TENANTS_ARCHIVE_COMMAND": ARCHIVE}
    with hosts(fresh_db, metadata_emulator, tmp_path_factory, shards=SHARDS,
               extra_env=extra) as p:
        yield p


class Backend:
    """A backend replica: a FleetManager in PostgreSQL mode, recording its events."""

    def __init__(self, platform: Platform, root: Path) -> None:
        self.events: list[Any] = []
        self.fm = FleetManager(root / "stacks", work_dir=root / "work",
                               neon_env=platform.emu.client_env,
                               default_shards={"free": SHARDS}, on_event=self.events.append)


@pytest.fixture(scope="module")
def backend(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    env = platform.env("backend")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("HOME", "NEON_TENANTS_DATABASE_URL", "PULUMI_CONFIG_PASSPHRASE",
                    "NEON_TENANTS_ARCHIVE", "NEON_TENANTS_ARCHIVE_DIR",
                    "NEON_TENANTS_ARCHIVE_COMMAND"):
            mp.setenv(key, env[key])
        mp.delenv("PULUMI_BACKEND_URL", raising=False)
        b = Backend(platform, tmp_path_factory.mktemp("backend"))
        with b.fm:
            yield b


def _on_shard(prefix: str, shard: int) -> str:
    return next(f"{prefix}-{i}" for i in range(100) if shard_of(f"{prefix}-{i}", SHARDS) == shard)


@pytest.fixture(scope="module")
def tenants(backend: Backend) -> dict[str, str]:
    """Four tenants, on different shards where it matters, provisioned through the queue."""
    names = {"snap": _on_shard("q-snap", 0), "dev": _on_shard("q-dev", 1),
             "move": _on_shard("q-move", 2), "gone": _on_shard("q-gone", 0)}
    for tid in names.values():
        backend.fm.provision(tid, "free", wait=False)
    for tid in names.values():
        assert backend.fm.wait(tid, 600).status == "ready"
    return names


def _neon(platform: Platform) -> Any:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    emu = platform.emu
    return NeonClient(NeonCredentials.from_file(emu.credentials_file),
                      ClientConfig(base_url=emu.base_url))


def _counts(platform: Platform) -> tuple[int, int, list[Any]]:
    with psycopg.connect(platform.url) as db:
        jobs = db.execute("SELECT count(*) FROM procrastinate_jobs").fetchone()
        ops = db.execute("SELECT count(*) FROM nt_operations").fetchone()
        rows = db.execute(
            "SELECT tier, tenant_id, spec, status, version FROM nt_tenants ORDER BY 1, 2"
        ).fetchall()
    assert jobs is not None and ops is not None
    return int(jobs[0]), int(ops[0]), rows


def test_bad_input_is_refused_before_anything_is_queued(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    fm, t = backend.fm, tenants["snap"]
    before = _counts(platform)
    refused: list[Any] = [
        lambda: fm.snapshot(t, "x" * 300, wait=False),
        lambda: fm.create_dev_branch(t, "x" * 300, wait=False),
        lambda: fm.create_dev_branch(t, "feat", parent="no-such-branch", wait=False),
        lambda: fm.restore(t, datetime.now(UTC) - timedelta(days=30), wait=False),
        lambda: fm.restore(t, "yesterday-ish", wait=False),
        lambda: fm.upgrade(t, "platinum", wait=False),
        lambda: fm.checkpoint(t, "Not A Label", wait=False),
        lambda: fm.checkpoint(t, "ok", app_revision="bad revision!", wait=False),
    ]
    for i, call in enumerate(refused):
        with pytest.raises(InvalidRequest) as info:
            call()
            pytest.fail(f"request {i} was accepted")
        assert info.value.http_status == 422
    with pytest.raises(TenantNotFound):
        fm.restore_snapshot(t, "never-taken", wait=False)
    with pytest.raises(TenantNotFound):
        fm.rollback(t, "no-such-checkpoint", wait=False)
    with pytest.raises(TenantNotFound):
        fm.delete("nobody-here", wait=False)
    assert _counts(platform) == before  # no job, no operation, no row changed


def test_snapshot_and_dev_branches_queued_then_waited(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    fm, snap, dev = backend.fm, tenants["snap"], tenants["dev"]
    # two shards' operations queued at once, returned at once
    s1 = fm.snapshot(snap, "s1", wait=False)
    b1 = fm.create_dev_branch(dev, "feature", wait=False)
    for st in (s1, b1):
        assert st.status in ("pending", "applying") and st.operation is not None, st
    assert fm.status(snap).kind == "snapshot"
    assert fm.wait(snap, 600).status == "ready", platform.logs()
    assert fm.wait(dev, 600).status == "ready", platform.logs()
    client = _neon(platform)
    try:
        org = client.org("free")
        pid = fm.show(snap).project_id
        assert [s.name for s in org.list_snapshots(pid)] == ["s1"]
        dev_conn = fm.show(dev)
        assert "feature" in dev_conn.dev_branches
        names = {b.name for b in org.iter_branches(dev_conn.project_id)}
        assert "feature" in names
        # reset then delete the branch, restore the snapshot: queued, then waited for
        for st in (fm.reset_dev_branch(dev, "feature", wait=False),
                   fm.restore_snapshot(snap, "s1", wait=False)):
            assert st.status in ("pending", "applying"), st
            assert fm.wait(st.tenant, 600).status == "ready", platform.logs()
        assert fm.delete_dev_branch(dev, "feature", wait=False).kind == "delete_dev_branch"
        assert fm.wait(dev, 600).status == "ready"
        assert "feature" not in fm.show(dev).dev_branches
        assert "feature" not in {b.name for b in org.iter_branches(dev_conn.project_id)}
        # the snapshot restore moved the default branch; the worker refreshed the project
        live = [b for b in org.iter_branches(pid) if b.default]
        assert [b.id for b in live] == [fm.show(snap).branch_id]
    finally:
        client.close()
    with psycopg.connect(platform.url) as db:
        rows = db.execute("SELECT status FROM nt_tenants WHERE tenant_id IN (%s, %s)",
                          (snap, dev)).fetchall()
    assert [r[0] for r in rows] == ["ready", "ready"]  # in-worker runs mark their rows


def test_a_waiting_caller_receives_the_workers_resource_steps(
    backend: Backend, tenants: dict[str, str]
) -> None:
    fm, t = backend.fm, tenants["snap"]
    backend.events.clear()
    cp = fm.checkpoint(t, "before-deploy", metadata={"deploy": "42"})
    assert cp.label == "before-deploy" and cp.metadata == {"deploy": "42"}
    steps = [e for e in backend.events if isinstance(e, ResourceStep)]
    # typed resource steps of this tenant, from the engine of a worker (this process has
    # none running: it only queued the operation)
    assert any(s.tenant == t and "Snapshot" in s.type and s.state == "done" for s in steps), \
        [(type(e).__name__, getattr(e, "type", ""), getattr(e, "state", ""),
          getattr(e, "tenant", "")) for e in backend.events]
    assert [c.label for c in fm.checkpoints(t)] == ["before-deploy"]
    # a sign-up too: the shard run's steps reach the replica waiting for it
    backend.events.clear()
    fm.provision("q-events", "free")
    assert any(isinstance(e, ResourceStep) and e.tenant == "q-events" and e.op == "create"
               and e.type.endswith("NeonTenantProject") and e.state == "done"
               for e in backend.events), backend.events
    back = fm.rollback(t, "before-deploy")
    assert back.metadata == {"deploy": "42"} and back.connection.project_id == \
        fm.show(t).project_id


def test_restore_upgrade_downgrade_through_the_queue(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    fm, t = backend.fm, tenants["move"]
    before = fm.show(t)
    time.sleep(1.0)
    undo = fm.restore(t, datetime.now(UTC) - timedelta(seconds=0.5))
    client = _neon(platform)
    try:
        assert undo.preserved_branch in {b.name for b in
                                         client.org("free").iter_branches(before.project_id)}
        queued = fm.upgrade(t, "pro", wait=False)
        assert queued.kind == "upgrade" and queued.status in ("pending", "applying")
        assert fm.wait(t, 600).status == "ready", platform.logs()
        moved = fm.show(t)
        assert (moved.tier, moved.project_id) == ("pro", before.project_id)
        paid = client.org("paid")
        assert moved.org_id == paid.org_id
        quota = paid.get_project(before.project_id).settings
        quota = quota["quota"] if isinstance(quota, dict) else quota.quota.model_dump()
        assert quota["active_time_seconds"] == fm.catalog.tiers["pro"].quota.active_time_seconds
        # usage that does not fit the target tier: the worker refuses before any change, and
        # the caller that waits gets the same LimitsExceeded (409) with its numbers
        extra = [paid.create_snapshot(before.project_id, moved.branch_id, name=f"x{i}")
                 for i in range(2)]
        with pytest.raises(LimitsExceeded) as info:
            fm.downgrade(t, "free")
        assert info.value.http_status == 409
        assert {"name": "snapshots", "actual": 2, "limit": 1} in info.value.details["violations"]
        assert fm.show(t).tier == "pro"
        for snap in extra:
            paid.delete_snapshot(before.project_id, snap.id)
        assert fm.downgrade(t, "free", wait=False).kind == "downgrade"
        assert fm.wait(t, 600).status == "ready", platform.logs()
        back = fm.show(t)
        assert (back.tier, back.project_id) == ("free", before.project_id)
        with psycopg.connect(platform.url) as db:
            held = {r[0] for r in db.execute(
                "SELECT tier FROM nt_runs WHERE outcome = %s AND worker_id IS NOT NULL",
                (f"operation {queued.operation} upgrade: done",))}
        assert held == {"free", "pro"}  # both stacks' locks name the worker that held them
        assert back.org_id == client.org("free").org_id
    finally:
        client.close()


def test_delete_queued_and_a_failed_archive_keeps_the_tenant(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    fm, t = backend.fm, tenants["gone"]
    pid = fm.show(t).project_id
    fm.snapshot(t, "keep-me")  # a child the engine would delete before the project
    marker = Path(platform.extra_env["NEON_TENANTS_ARCHIVE_DIR"]) / f"fail-{t}"
    marker.write_text("")
    with pytest.raises(ArchiveFailed) as info:
        fm.delete(t)
    assert info.value.http_status == 502 and "bucket unreachable" in str(info.value)
    assert pid in {p.id for p in _projects(platform)}
    with psycopg.connect(platform.url) as db:
        row = db.execute("SELECT present, status FROM nt_tenants WHERE tenant_id = %s",
                         (t,)).fetchone()
    assert row == (True, "ready")
    assert fm.show(t).project_id == pid  # nothing of the tenant was deleted
    client = _neon(platform)
    try:
        assert [x.name for x in client.org("free").list_snapshots(pid)] == ["keep-me"]
    finally:
        client.close()
    marker.unlink()
    st = fm.delete(t, wait=False)
    assert st.kind == "delete"
    assert fm.wait(t, 600).status == "deleted", platform.logs()
    assert pid not in {p.id for p in _projects(platform)}
    manifests = list(Path(platform.extra_env["NEON_TENANTS_ARCHIVE_DIR"]).glob(
        f"{t}/*.manifest.json"))
    assert len(manifests) == 1  # archived once, then deleted


def _projects(platform: Platform) -> list[Any]:
    client = _neon(platform)
    try:
        return list(client.org("free").iter_projects())
    finally:
        client.close()


def test_a_worker_killed_mid_operation_converges_on_another(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    fm, t = backend.fm, tenants["dev"]
    st = fm.snapshot(t, "s-crash", wait=False)
    assert st.operation is not None
    deadline = time.monotonic() + 300
    holder: str | None = None
    while time.monotonic() < deadline and holder is None:
        with psycopg.connect(platform.url) as db:
            row = db.execute(
                "SELECT o.host FROM nt_operations o WHERE o.id = %s AND o.status = 'running'"
                " AND EXISTS (SELECT 1 FROM nt_events e WHERE e.operation_id = o.id"
                "  AND e.event->>'event' = 'ResourceStep')", (st.operation,),
            ).fetchone()
        holder = row[0] if row else None
        time.sleep(0.05)
    assert holder, "the operation never started\n" + platform.logs()
    pid = int(holder.rsplit(":", 1)[1])
    victim = next(n for n, p in platform.workers.items() if p.pid == pid)
    os.killpg(pid, signal.SIGKILL)  # the whole host: worker, engine, providers
    platform.workers[victim].wait(10)
    platform.start_worker("w3")
    assert fm.wait(t, 600).status == "ready", platform.logs()
    with psycopg.connect(platform.url) as db:
        attempts = db.execute("SELECT attempts, status FROM nt_operations WHERE id = %s",
                              (st.operation,)).fetchone()
    assert attempts == (2, "done")
    client = _neon(platform)
    try:
        names = [s.name for s in client.org("free").list_snapshots(fm.show(t).project_id)]
    finally:
        client.close()
    assert names == ["s-crash"]  # exactly one (free tier: cap 1), not a duplicate


def test_cli_no_wait_returns_the_operation_then_status_follows_it(
    platform: Platform, tenants: dict[str, str], tmp_path: Path
) -> None:
    import subprocess
    import sys

    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {**platform.env("cli"), "NEON_TENANTS_STACKS_DIR": str(tmp_path / "stacks")}
    t = tenants["move"]
    asked = subprocess.run([exe, "tenant", "snapshot", t, "from-cli", "--no-wait", "--json"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert '"kind": "snapshot"' in asked.stdout and '"operation": ' in asked.stdout
    shown = subprocess.run([exe, "tenant", "status", t, "--wait", "300", "--json"], env=env,
                           capture_output=True, text=True, timeout=400)
    assert shown.returncode == 0 and '"status": "ready"' in shown.stdout, shown.stderr
    client = _neon(platform)
    try:
        pid = next(p.id for p in client.org("free").iter_projects() if p.name == f"nt-{t}")
        assert [s.name for s in client.org("free").list_snapshots(pid)] == ["from-cli"]
    finally:
        client.close()


def test_an_operation_recorded_but_never_queued_is_queued_by_a_worker(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    """A backend killed between writing the operation and deferring its job: a worker's
    recovery loop finds the operation without a live job and queues it."""
    t = tenants["snap"]
    with psycopg.connect(platform.url) as db:
        row = db.execute(
            "INSERT INTO nt_operations (tenant_id, tier, stack, kind, args, created_at)"
            " VALUES (%s, 'free', %s, 'snapshot', '{\"name\": \"orphan\"}',"
            " now() - interval '5 minutes') RETURNING id", (t, f"free-{shard_of(t, SHARDS):02d}"),
        ).fetchone()
    assert row is not None
    queue = backend.fm.queue
    assert queue is not None
    done = queue.follow(int(row[0]), 300)
    assert done.status == "done" and done.job_id is not None, (done, platform.logs())
    client = _neon(platform)
    try:
        names = [s.name for s in client.org("free").list_snapshots(backend.fm.show(t).project_id)]
    finally:
        client.close()
    assert names == ["orphan"]


def test_the_event_log_keeps_only_the_last_hour(platform: Platform) -> None:
    from neon_tenants.automation.events import StackProgress
    from neon_tenants.jobs._events import EventLog

    log = EventLog(platform.url)
    try:
        log.append(StackProgress("prune-00", "imperative", "old"), tenant="prune-me")
        log.append(StackProgress("prune-00", "imperative", "new"), tenant="prune-me")
        with psycopg.connect(platform.url) as db:
            db.execute("UPDATE nt_events SET at = now() - interval '2 hours'"
                       " WHERE tenant_id = 'prune-me' AND event->>'message' = 'old'")
        assert log.prune() >= 1
        left = [e.message for _, e in log.for_tenant("prune-me", "prune-00", 0)
                if isinstance(e, StackProgress)]
        assert left == ["new"]
    finally:
        log.close()


def test_a_failed_operation_leaves_its_row_failed_not_pending(
    platform: Platform, backend: Backend, tenants: dict[str, str]
) -> None:
    """The worker wrote the change, then Neon refused it: the caller gets the engine's
    error and the row says `failed` (not `pending` with no run queued); a new request
    converges."""
    fm, t = backend.fm, tenants["dev"]
    refuse = {"faults": [{"route": "POST */branches", "error_rate": 1.0, "status": 400}]}
    platform.emu.admin("PUT", "/_emulator/faults", refuse)
    try:
        with pytest.raises(DeploymentFailed) as info:
            fm.create_dev_branch(t, "doomed")
    finally:
        platform.emu.admin("PUT", "/_emulator/faults", {"faults": []})
    assert info.value.http_status == 502
    st = fm.status(t)
    assert st.status == "failed" and st.kind == "create_dev_branch" and st.error
    with psycopg.connect(platform.url) as db:
        row = db.execute("SELECT status, error FROM nt_tenants WHERE tenant_id = %s",
                         (t,)).fetchone()
    assert row is not None and row[0] == "failed" and row[1]
    again = fm.create_dev_branch(t, "doomed")  # Neon accepts it now
    assert "doomed" in again.dev_branches and fm.status(t).status == "ready"
    fm.delete_dev_branch(t, "doomed")


def test_a_worker_whose_stack_config_keeps_the_tier_in_files_refuses_the_operation(
    platform: Platform, tmp_path: Path
) -> None:
    from neon_tenants.catalog import load_catalog
    from neon_tenants.jobs._op_run import OperationRunner
    from neon_tenants.jobs._ops import OperationStore

    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.free.yaml").write_text("config:\n  neon-tenants:fleetStore: files\n")
    ops = OperationStore(platform.url)
    runner = OperationRunner(platform.url, tmp_path / "work", load_catalog(), stacks_dir=stacks,
                             neon_env=platform.env("misconfigured"))
    try:
        op = ops.create("files-tier", "free", "free-00", "snapshot", {"name": "s"})
        runner(op.id)
        done = ops.get(op.id)
    finally:
        runner.close()
        ops.close()
    assert done is not None and done.status == "failed"
    assert done.error_kind == "EngineUnavailable" and "files store" in (done.error or "")
    assert not (stacks / "fleets").exists()  # no fleet file was written


def test_declarative_operations_of_one_shard_batch_into_one_run(
    platform: Platform, backend: Backend
) -> None:
    fm = backend.fm
    a, b = [f"q-bat-{i}" for i in range(40) if shard_of(f"q-bat-{i}", SHARDS) == 2][:2]
    for tid in (a, b):
        fm.provision(tid, "free", wait=False)
    for tid in (a, b):
        assert fm.wait(tid, 600).status == "ready", platform.logs()
    time.sleep(1.0)
    # an imperative operation holds the shard while the edits arrive behind it
    first = fm.restore(a, datetime.now(UTC) - timedelta(seconds=0.5), wait=False)
    edits = [fm.create_dev_branch(a, "one", wait=False), fm.snapshot(b, "b1", wait=False),
             fm.create_dev_branch(b, "two", wait=False)]
    for tid in (a, b):
        assert fm.wait(tid, 600).status == "ready", platform.logs()
    ids = [st.operation for st in edits]
    with psycopg.connect(platform.url) as db:
        states = db.execute("SELECT status FROM nt_operations WHERE id = ANY(%s)",
                            (ids + [first.operation],)).fetchall()
        outcomes = [r[0] for r in db.execute(
            "SELECT outcome FROM nt_runs WHERE outcome LIKE 'operation%%' AND tier = 'free'"
            " AND shard = 2 AND started_at > now() - interval '10 minutes'")]
    assert [s[0] for s in states] == ["done"] * 4
    ran = [o for o in outcomes if any(f"{i}" in o.split(":")[0].split()[1].split(",")
                                      for i in ids)]
    assert len(ran) < len(ids), outcomes  # fewer engine runs than operations
    assert any("batch" in o for o in ran), outcomes
    conn_a, conn_b = fm.show(a), fm.show(b)
    assert set(conn_a.dev_branches) == {"one"} and set(conn_b.dev_branches) == {"two"}
    client = _neon(platform)
    try:
        assert [s.name for s in client.org("free").list_snapshots(conn_b.project_id)] == ["b1"]
        names = {x.name for x in client.org("free").iter_branches(conn_a.project_id)}
        assert "one" in names
    finally:
        client.close()


def test_a_bulk_move_is_checked_here_queued_per_source_stack_and_run_by_workers(
    platform: Platform, backend: Backend
) -> None:
    """move_many in PostgreSQL mode: bad input (422) and a downgrade whose usage does not
    fit (409) queue nothing; a move queues one operation per source stack, a worker runs
    each (one transfer request per stack), `wait` returns the BulkMove; project ids kept."""
    from neon_tenants.automation import BulkMove, BulkMoveStatus

    fm = backend.fm
    names = [_on_shard("q-bulk-a", 0), _on_shard("q-bulk-b", 0), _on_shard("q-bulk-c", 1)]
    for tid in names:
        fm.provision(tid, "free", wait=False)
    for tid in names:
        assert fm.wait(tid, 600).status == "ready", platform.logs()
    pids = {t: fm.show(t).project_id for t in names}
    before = _counts(platform)
    with pytest.raises(InvalidRequest) as bad:
        fm.move_many([*names, "q-bulk-nobody"], "pro", wait=False)
    assert bad.value.http_status == 422 and "q-bulk-nobody: in no fleet" in str(bad.value)
    with pytest.raises(InvalidRequest) as info:
        fm.move_many(names, "platinum", wait=False)
    assert info.value.http_status == 422
    assert _counts(platform) == before  # no job, no operation, no row changed

    queued = fm.move_many(names, "pro", wait=False)
    assert isinstance(queued, BulkMoveStatus) and queued.status in ("queued", "running")
    assert len(queued.operations) == 2  # free-00 and free-01
    moved = fm.wait_move_many(queued.operations, 600)
    assert isinstance(moved, BulkMove), platform.logs()
    assert sorted(moved.moved) == sorted(names) and moved.transfer_requests == 2
    assert fm.move_many_status(queued.operations).status == "done"
    client = _neon(platform)
    try:
        paid = client.org("paid")
        for t in names:
            conn = moved.connections[t]
            assert (conn.tier, conn.project_id, conn.org_id) == ("pro", pids[t], paid.org_id)
            assert fm.status(t).status == "ready"
        with psycopg.connect(platform.url) as db:
            held = set(db.execute(
                "SELECT tier, shard FROM nt_runs WHERE outcome = ANY(%s)"
                " AND worker_id IS NOT NULL",
                ([f"operation {o} move_many: done" for o in queued.operations],)))
        assert held == {("free", 0), ("free", 1), ("pro", 0)}

        # a move killed after forgetting the source state, before dropping the source row
        # (the tenant listed in both tiers): a rerun finishes it, no transfer, no new project
        spec = fm.store.load("pro").get(names[0])
        assert spec is not None and spec.adopt_project_id == pids[names[0]]
        fm.store.put("free", spec.model_copy(update={"adopt_project_id": None}))
        again = fm.move_many([names[0]], "pro")
        assert (again.moved, again.transfer_requests) == ([names[0]], 0)
        assert fm.store.load("free").get(names[0]) is None
        assert again.connections[names[0]].project_id == pids[names[0]]

        # a downgrade whose usage does not fit the target: refused here, nothing queued
        extra = [paid.create_snapshot(pids[names[2]], moved.connections[names[2]].branch_id,
                                      name=f"bulk{i}") for i in range(2)]
        before = _counts(platform)
        with pytest.raises(LimitsExceeded) as over:
            fm.move_many(names, "free", downgrade=True, wait=False)
        assert over.value.http_status == 409 and names[2] in str(over.value)
        assert _counts(platform) == before
        for snap in extra:
            paid.delete_snapshot(pids[names[2]], snap.id)
        back = fm.move_many(names, "free", downgrade=True)
        assert sorted(back.moved) == sorted(names) and back.stacks == ["free-00", "free-01"]
        free = client.org("free")
        for t in names:
            assert (back.connections[t].project_id, back.connections[t].org_id) == \
                (pids[t], free.org_id)
        assert sorted(p.id for p in free.iter_projects() if p.id in pids.values()) == \
            sorted(pids.values())  # no duplicate, none lost
    finally:
        client.close()


def test_audit_fix_queues_its_repairs_and_a_worker_runs_them(
    platform: Platform, backend: Backend
) -> None:
    """audit() reads here; audit(fix=True) queues one `repair` per stack with a fixable
    finding, behind that shard's lock, and a worker repairs it (nt_runs names the worker):
    a tenant whose state was lost is adopted again, same project, no duplicate."""
    fm, t = backend.fm, _on_shard("q-audit", 2)
    fm.provision(t, "free", wait=False)
    assert fm.wait(t, 600).status == "ready", platform.logs()
    where = fm.show(t)
    fm.runner.forget(where.stack, t)  # the state lost the tenant; its project is in Neon
    found = [f for f in fm.audit().findings if f.tenant == t]
    assert [f.fix for f in found] == ["adopt"], found
    report = fm.audit(fix=True)
    assert [(f.tenant, f.fix) for f in report.fixed if f.tenant == t] == [(t, "adopt")]
    assert not [f for f in report.findings if f.tenant == t and f.kind != "ok"]
    assert fm.show(t).project_id == where.project_id
    assert [p.id for p in _projects(platform) if p.name.endswith(f"-{t}")] == [where.project_id]
    with psycopg.connect(platform.url) as db:
        ops = db.execute("SELECT id, status FROM nt_operations WHERE kind = 'repair'"
                         " AND tenant_id = %s", (f"repair:{where.stack}",)).fetchall()
        assert [s for _, s in ops] == ["done"]
        held = db.execute("SELECT tier, shard FROM nt_runs WHERE outcome = %s"
                          " AND worker_id IS NOT NULL",
                          (f"operation {ops[0][0]} repair: done",)).fetchall()
    assert held == [("free", 2)]


def test_restore_archive_is_checked_here_then_a_worker_provisions_and_restores(
    platform: Platform, backend: Backend
) -> None:
    """restore_archive in PostgreSQL mode: a manifest that does not match its archive is
    refused here (422, nothing queued); a matching one is queued, and a worker provisions
    the tenant and runs pg_restore from the shared archive dir (this archive is no pg_dump
    file, so pg_restore refuses it: ArchiveFailed, 502, raised to the waiting caller)."""
    from neon_tenants.archive.manifest import ArchiveManifest, file_digest, write_manifest

    fm, t = backend.fm, _on_shard("q-unarchived", 1)
    root = Path(platform.extra_env["NEON_TENANTS_ARCHIVE_DIR"]) / "q-archived"
    root.mkdir(parents=True, exist_ok=True)
    dump = root / "q-archived-1.dump"
    dump.write_bytes(b"not a pg_dump archive\n")
    size, digest = file_digest(dump)
    good = ArchiveManifest(tenant="q-archived", tier="free", project_id="p-gone",
                           archived_at=datetime.now(UTC), file=dump.name, size_bytes=size,
                           sha256=digest, format="custom")
    write_manifest(root / "good.manifest.json", good)
    write_manifest(root / "bad.manifest.json", good.model_copy(update={"sha256": "0" * 64}))
    before = _counts(platform)
    with pytest.raises(InvalidRequest) as bad:
        fm.restore_archive(root / "bad.manifest.json", t, wait=False)
    assert bad.value.http_status == 422 and "does not match its manifest" in str(bad.value)
    with pytest.raises(InvalidRequest):
        fm.restore_archive(root / "good.manifest.json", t, "platinum", wait=False)
    assert _counts(platform) == before

    queued = fm.restore_archive(root / "good.manifest.json", t, wait=False)
    assert (queued.tenant, queued.kind) == (t, "restore_archive")
    assert fm.queue is not None and queued.operation is not None
    with pytest.raises(ArchiveFailed) as info:
        fm.queue.follow(queued.operation, 600).raise_error()  # what `wait=True` raises
    assert info.value.http_status == 502 and f"into {t!r} failed" in str(info.value)
    with psycopg.connect(platform.url) as db:
        rows = db.execute("SELECT status, host FROM nt_operations WHERE kind ="
                          " 'restore_archive' AND tenant_id = %s ORDER BY id",
                          (t,)).fetchall()
    assert [r[0] for r in rows] == ["failed"]
    assert all(not str(r[1]).endswith(f":{os.getpid()}") for r in rows)  # a worker ran it
    assert fm.status(t).tier == "free"  # the worker provisioned the tenant
