"""Branching, point-in-time restore and snapshots act on real data (issue 5)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from neon_emulator.compute.backend import BranchSource, ComputeError
from neon_emulator.compute.postgres import PostgresBackend

from .conftest import DBS, OWNER, Endpoint, connect, rows

pytestmark = pytest.mark.postgres


def _root(backend: PostgresBackend, project: str = "p1", branch: str = "br-main") -> None:
    backend.create_branch(project, branch, source=BranchSource(), roles=[OWNER],
                          databases=DBS, pg_version=15)


def _branch(backend: PostgresBackend, branch: str, **source: object) -> str | None:
    return backend.create_branch("p1", branch, source=BranchSource(**source),  # type: ignore[arg-type]
                                 roles=[OWNER], databases=DBS, pg_version=15)


def _insert_a_t_b(endpoint: Endpoint) -> tuple[object, datetime, str]:
    main = endpoint("p1", "br-main")
    with connect(main) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('A')")
        lsn = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        time.sleep(0.05)
        point = datetime.now(UTC)
        time.sleep(0.05)
        conn.execute("INSERT INTO t VALUES ('B')")
    return main, point, lsn


def test_branch_at_timestamp_has_rows_before_the_point_only(backend, endpoint):
    _root(backend)
    _, point, _ = _insert_a_t_b(endpoint)
    _branch(backend, "br-past", branch_id="br-main", timestamp=point)
    with connect(endpoint("p1", "br-past")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]
        conn.execute("INSERT INTO t VALUES ('C')")  # promoted: read-write


def test_branch_at_lsn_has_rows_up_to_the_lsn(backend, endpoint):
    _root(backend)
    _, _, lsn = _insert_a_t_b(endpoint)
    _branch(backend, "br-lsn", branch_id="br-main", lsn=lsn)
    with connect(endpoint("p1", "br-lsn")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]


def test_branch_at_timestamp_from_a_suspended_parent(backend, endpoint):
    _root(backend)
    main, point, _ = _insert_a_t_b(endpoint)
    backend.suspend_endpoint("p1", main.endpoint_id)
    assert backend.running_pids() == []
    _branch(backend, "br-past", branch_id="br-main", timestamp=point)
    _branch(backend, "br-head", branch_id="br-main", timestamp=datetime.now(UTC))
    with connect(endpoint("p1", "br-past")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]
    with connect(endpoint("p1", "br-head")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",), ("B",)]


def test_dev_branch_writes_do_not_reach_its_parent(backend, endpoint):
    _root(backend)
    main = endpoint("p1", "br-main")
    with connect(main) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('parent')")
        lsn = _branch(backend, "br-dev", branch_id="br-main")
        assert lsn is not None and "/" in lsn
        with connect(endpoint("p1", "br-dev")) as dev:
            assert rows(dev, "SELECT v FROM t") == [("parent",)]
            dev.execute("INSERT INTO t VALUES ('dev')")
            dev.execute("CREATE TABLE only_dev (x int)")
        # the parent's session was not disturbed by the online base backup
        assert rows(conn, "SELECT v FROM t") == [("parent",)]
        assert rows(conn, "SELECT to_regclass('only_dev') IS NULL") == [(True,)]


def test_restore_in_place_keeps_old_state_under_preserved_branch(backend, endpoint):
    _root(backend)
    main, point, _ = _insert_a_t_b(endpoint)
    backend.restore_branch("p1", "br-main", source=BranchSource(branch_id="br-main",
                           timestamp=point), preserve_as_branch_id="br-old")
    with connect(main) as conn:  # the same endpoint now serves the restored data
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]
    with connect(endpoint("p1", "br-old")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",), ("B",)]


def test_reset_to_parent_takes_the_parents_head(backend, endpoint):
    _root(backend)
    main = endpoint("p1", "br-main")
    with connect(main) as conn:
        conn.execute("CREATE TABLE t (v text)")
    _branch(backend, "br-dev", branch_id="br-main")
    dev = endpoint("p1", "br-dev")
    with connect(dev) as conn:
        conn.execute("INSERT INTO t VALUES ('dev')")
    with connect(main) as conn:
        conn.execute("INSERT INTO t VALUES ('main')")
    backend.restore_branch("p1", "br-dev", source=BranchSource(branch_id="br-main"),
                           preserve_as_branch_id=None)
    with connect(dev) as conn:
        assert rows(conn, "SELECT v FROM t") == [("main",)]


def test_snapshot_then_more_writes_then_restore_shows_snapshot_rows(backend, endpoint):
    _root(backend)
    main = endpoint("p1", "br-main")
    with connect(main) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('kept')")
    lsn = backend.create_snapshot("p1", "br-main", "snap-1", lsn=None, timestamp=None)
    assert lsn is not None
    with connect(main) as conn:
        conn.execute("INSERT INTO t VALUES ('later')")
    backend.restore_snapshot("p1", "snap-1", "br-restored")
    with connect(endpoint("p1", "br-restored")) as conn:
        assert rows(conn, "SELECT v FROM t") == [("kept",)]
    backend.restore_snapshot("p1", "snap-1", "br-main")  # onto an existing branch: in place
    with connect(main) as conn:
        assert rows(conn, "SELECT v FROM t") == [("kept",)]


def test_snapshot_at_a_past_timestamp(backend, endpoint):
    _root(backend)
    _, point, _ = _insert_a_t_b(endpoint)
    backend.create_snapshot("p1", "br-main", "snap-t", lsn=None, timestamp=point)
    backend.restore_snapshot("p1", "snap-t", "br-from-snap")
    with connect(endpoint("p1", "br-from-snap")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]


def test_points_outside_the_history_window_are_refused(backend, endpoint):
    _root(backend)
    with connect(endpoint("p1", "br-main")) as conn:
        conn.execute("SELECT 1")
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(ComputeError) as exc:
        backend.check_point_in_window("p1", "br-main", lsn=None, timestamp=future)
    assert exc.value.status == 400 and "future" in str(exc.value)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ComputeError) as exc:
        _branch(backend, "br-x", branch_id="br-main", timestamp=past)
    assert exc.value.status == 422 and "before" in str(exc.value)
    with pytest.raises(ComputeError) as exc:
        backend.check_point_in_window("p1", "br-main", lsn="FF/0", timestamp=None)
    assert exc.value.status == 422
    backend.check_point_in_window("p1", "br-main", lsn=None, timestamp=datetime.now(UTC))


def test_delete_branch_removes_its_data(backend, endpoint):
    _root(backend)
    with connect(endpoint("p1", "br-main")) as conn:
        conn.execute("SELECT 1")
    _branch(backend, "br-dev", branch_id="br-main")
    path = backend.layout.branch("p1", "br-dev")
    assert (path / "pgdata").is_dir()
    backend.delete_branch("p1", "br-dev")
    assert not path.exists()
    backend.delete_project("p1")
    assert not backend.layout.project("p1").exists()
    assert backend.running_pids() == []


def test_periodic_base_backup_serves_later_points_and_keeps_earlier_ones(backend, endpoint):
    backend.backup_every_bytes = 1024 * 1024
    _root(backend)
    main = endpoint("p1", "br-main")
    with connect(main) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('early')")
        early = datetime.now(UTC)
        time.sleep(0.02)
        conn.execute("INSERT INTO t SELECT repeat('x', 1000) FROM generate_series(1, 3000)")
        br = backend.branch("p1", "br-main")
        with br.lock:
            backend.maybe_backup(br)
        assert len(br.meta.backups) == 2
        conn.execute("DELETE FROM t WHERE v <> 'early'")
        conn.execute("INSERT INTO t VALUES ('late')")
        late = datetime.now(UTC)
        time.sleep(0.02)
        conn.execute("INSERT INTO t VALUES ('after')")
    _branch(backend, "br-late", branch_id="br-main", timestamp=late)
    _branch(backend, "br-early", branch_id="br-main", timestamp=early)
    with connect(endpoint("p1", "br-late")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("early",), ("late",)]
    with connect(endpoint("p1", "br-early")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("early",)]


def test_branch_at_timestamp_after_the_parent_crashed(backend, endpoint):
    _root(backend)
    main, point, _ = _insert_a_t_b(endpoint)
    br = backend.branch("p1", "br-main")
    with br.lock:
        br.cluster.stop(mode="immediate")  # like a crash: no final archiving
    _branch(backend, "br-past", branch_id="br-main", timestamp=point)
    with connect(endpoint("p1", "br-past")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",)]
    with connect(main) as conn:  # the parent restarts with its data intact
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("A",), ("B",)]


def test_schema_only_branch_has_tables_but_no_rows(backend, endpoint):
    _root(backend)
    with connect(endpoint("p1", "br-main")) as conn:
        conn.execute("CREATE TABLE t (v text PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES ('secret row')")
    _branch(backend, "br-schema", branch_id="br-main", schema_only=True)
    with connect(endpoint("p1", "br-schema")) as conn:
        assert rows(conn, "SELECT count(*) FROM t") == [(0,)]
        assert rows(conn, "SELECT tableowner FROM pg_tables WHERE tablename = 't'") == [
            ("neondb_owner",)]


def test_point_in_time_branch_of_a_child_branch(backend, endpoint):
    _root(backend)
    with connect(endpoint("p1", "br-main")) as conn:
        conn.execute("CREATE TABLE t (v text)")
        conn.execute("INSERT INTO t VALUES ('from parent')")
    _branch(backend, "br-dev", branch_id="br-main")
    assert not (backend.layout.branch("p1", "br-dev") / "backups" / "0").exists()
    with connect(endpoint("p1", "br-dev")) as conn:  # first start keeps backup 0
        conn.execute("INSERT INTO t VALUES ('dev 1')")
        time.sleep(0.05)
        point = datetime.now(UTC)
        time.sleep(0.05)
        conn.execute("INSERT INTO t VALUES ('dev 2')")
    assert (backend.layout.branch("p1", "br-dev") / "backups" / "0").is_dir()
    _branch(backend, "br-dev-past", branch_id="br-dev", timestamp=point)
    with connect(endpoint("p1", "br-dev-past")) as conn:
        assert rows(conn, "SELECT v FROM t ORDER BY v") == [("dev 1",), ("from parent",)]
