"""A rollout killed with `kill -9` in the middle of a wave's checkpoint `up` and, on its reruns,
in the middle of the wave's migrate `up`: the next rerun converges (issue 12).

Through the real engine, the pulumi-command plugin and the real-Postgres emulator; the rollout
runs in a subprocess. Two kinds of kill: the process group of the rollout (the Python process
and the engine; the engine starts each plugin in a process group of its own, so the providers
and a migration's psql survive it, as they would a crash of the platform's backend), and
every process of its session (a host or container crash: psql dies mid-transaction).

The migration is idempotent the documented way (docs/ARCHITECTURE.md, "Crashes"): ONE
transaction takes an advisory lock, does the work (a row in `migrations_run`: the side
effect counted per database) and records the revision in `app_revisions`, skipping a recorded
one. A line in `started.log` is written inside the transaction after the work, so a kill after
it lands mid-migration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import FleetManager
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from .conftest import Recorder, connect, make_manager, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]

TENANTS = ["kw-0", "kw-1", "kw-2"]

_ROLLOUT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from neon_tenants.automation import FleetManager, ResourceStep
    root, env = Path(sys.argv[1]), json.loads(sys.argv[2])
    log = open(root / "events.log", "a", buffering=1)

    def on_event(e):
        if isinstance(e, ResourceStep):
            log.write(f"{e.state} {e.urn.rsplit('::', 1)[-1]}\\n")

    with FleetManager(root / "stacks", work_dir=root / "work",
                      backend_url=f"file://{root / 'state'}", lock_dir=root / "locks",
                      neon_env=env, on_event=on_event, archive=False) as fm:
        fm.rollout("pro", "r2", canary=0)
    """
)


def migration(root: Path) -> str:
    rev = "'$NEON_TENANTS_APP_REVISION'"
    return (
        f'hold=0; [ -e {root}/hold ] && hold=6; '
        'psql "$DATABASE_URL" -q -1 -v ON_ERROR_STOP=1 '
        '-c "set client_connection_check_interval = 200" '
        '-c "select pg_advisory_xact_lock(2012)" '
        '-c "create table if not exists app_revisions (revision text primary key)" '
        '-c "create table if not exists migrations_run (revision text not null)" '
        f'-c "insert into migrations_run select {rev} where not exists '
        f'(select 1 from app_revisions where revision = {rev})" '
        f'-c "insert into app_revisions values ({rev}) on conflict do nothing" '
        f"-c '\\! echo \"$NEON_TENANTS_TENANT $NEON_TENANTS_APP_REVISION\" >> {root}/started.log' "
        '-c "select pg_sleep($hold)"'
    )


def _start(root: Path, fm: FleetManager, emu: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _ROLLOUT, str(root), json.dumps(emu.client_env)],
        env={**os.environ, **fm.engine.env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, *, session: bool
) -> None:
    """SIGKILL the rollout's process group (or, with `session`, every process group of its
    session) once `ready()`."""
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None, f"the rollout ended before {what}"
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.05)
    for group in _groups_of_session(proc.pid) if session else {proc.pid}:
        os.killpg(group, signal.SIGKILL)
    proc.wait()


def _groups_of_session(sid: int) -> set[int]:
    """Process groups of the session `sid` (the subprocess started it: its descendants)."""
    groups: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid:
            groups.add(int(fields[2]))
    return groups


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _db(fm: FleetManager, tenant: str, sql: str) -> list[Any]:
    with connect(fm.show(tenant).connection_uri.get_secret_value()) as db:
        return list(db.execute(sql))


def _started(root: Path, revision: str) -> int:
    return sum(1 for x in _lines(root / "started.log") if x.endswith(f" {revision}"))


def test_rollout_killed_mid_checkpoint_and_mid_migration_converges_on_rerun(
    emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("rollout-killed")
    sessions: list[int] = []
    with make_manager(root, emulator, Recorder(), archive=False) as fm:
        save_fleet(fm.fleet_path("pro"), FleetSpec(
            tier="pro", tenants=tuple(TenantSpec(id=t) for t in TENANTS),
            app_revision="r1", migration_command=migration(root)))
        fm.up("pro")
        projects = {t: fm.show(t).project_id for t in TENANTS}
        events = root / "events.log"

        def start() -> subprocess.Popen[bytes]:
            proc = _start(root, fm, emulator)
            sessions.append(proc.pid)
            return proc

        try:
            # 1. the process group killed once the wave's checkpoint `up` made one snapshot
            _kill_when(start(), lambda: any(x.startswith("done ") and "cp-pre-r2" in x
                                            for x in _lines(events)),
                       "a checkpoint snapshot", session=False)
            fleet = fm.fleet("pro")
            assert all(fleet.require(t).app_revision is None for t in TENANTS), "not pinned"
            assert [c.label for t in TENANTS
                    for c in fleet.require(t).checkpoints] == ["pre-r2"] * 3

            # 2. the rerun's whole session killed while the three migrations are inside
            # their transaction: PostgreSQL rolls them back
            (root / "hold").touch()
            _kill_when(start(), lambda: _started(root, "r2") == 3, "three migrations",
                       session=True)
            fleet = fm.fleet("pro")
            assert [fleet.require(t).app_revision for t in TENANTS] == ["r2"] * 3  # pinned
            for t in TENANTS:
                _wait_idle(fm, t)
                assert _db(fm, t, "select revision from app_revisions") == [("r1",)]

            # 3. the next rerun's process group killed mid-migration: the orphaned
            # migrations go on (and commit) while 4. a plain rerun runs them again
            _kill_when(start(), lambda: _started(root, "r2") == 6, "three migrations again",
                       session=False)
            (root / "hold").unlink()
            result = fm.rollout("pro", "r2", canary=0)
            assert result.ok and result.migrated == TENANTS
            assert fm.fleet("pro").app_revision == "r2"
        finally:
            for sid in sessions:  # the orphaned providers of the killed runs
                for group in _groups_of_session(sid):
                    os.killpg(group, signal.SIGKILL)

        started = Counter(_lines(root / "started.log"))
        for t in TENANTS:
            # each migration ran three times (twice killed); its work counts once
            assert (started[f"{t} r1"], started[f"{t} r2"]) == (1, 3)
            runs = _db(fm, t, "select revision, count(*) from migrations_run group by 1")
            assert dict(runs) == {"r1": 1, "r2": 1}
            assert [c.label for c in fm.checkpoints(t)] == ["pre-r2"]
        with neon_client(emulator) as client:
            for t, pid in projects.items():
                names = [s.name for s in client.org("paid").list_snapshots(pid)]
                assert names == ["cp-pre-r2"], (t, names)  # one each: none duplicated, no orphan
        assert not fm.preview(["pro"]).has_changes
        assert fm.engine.lock_store is not None and fm.engine.lock_store.locks() == []


def _wait_idle(fm: FleetManager, tenant: str) -> None:
    """Until the killed clients' backends are gone (they notice within 200 ms)."""
    sql = ("select count(*) from pg_stat_activity where pid <> pg_backend_pid() "
           "and query like '%pg_sleep%'")
    deadline = time.monotonic() + 20
    while _db(fm, tenant, sql) != [(0,)]:
        assert time.monotonic() < deadline, "a killed migration's backend is still running"
        time.sleep(0.2)
