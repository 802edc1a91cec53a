"""Endpoints: real connections, wake-on-connect, scale to zero, pooler, quotas (issue 5)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from neon_emulator.compute.backend import BranchSource, QuotaPolicy, RoleSpec
from neon_emulator.compute.postgres import PostgresBackend

from .conftest import DBS, OWNER, connect, rows, uri

pytestmark = pytest.mark.postgres


def _root(backend: PostgresBackend, project: str = "p1") -> None:
    backend.create_branch(project, "br-main", source=BranchSource(), roles=[OWNER],
                          databases=DBS, pg_version=15)


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_metadata_only_branch_runs_nothing_until_connected(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    assert backend.running_pids() == []
    assert not (backend.layout.branch("p1", "br-main") / "pgdata").exists()
    assert backend.current_lsn("p1", "br-main") is None
    assert backend.endpoint_state("p1", spec.endpoint_id) == "idle"
    with connect(spec) as conn:  # wake-on-connect materialises and starts the cluster
        assert rows(conn, "SELECT current_user, current_database()") == [
            ("neondb_owner", "neondb")]
    assert backend.endpoint_state("p1", spec.endpoint_id) == "active"
    assert len(backend.running_pids()) == 1


def test_wrong_password_is_refused_by_postgres(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(spec, role=RoleSpec(OWNER.name, "wrong"))


def test_uri_works_with_psql(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    for pooled in (False, True):
        # as handed out (sslmode=disable), and psql's default sslmode=prefer (SSLRequest: 'N')
        for target in (uri(spec, pooled=pooled), uri(spec, pooled=pooled).split("?")[0]):
            out = subprocess.run([psql, target, "-Atc", "SELECT 40 + 2"],
                                 capture_output=True, text=True, timeout=60)
            assert out.stdout.strip() == "42", out.stderr


def test_pooled_uri_goes_through_pgbouncer_in_transaction_mode(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    with connect(spec, pooled=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        assert rows(conn, "SELECT count(*) FROM t") == [(1,)]
        # pgbouncer answers its own SHOW commands only on its admin db; the server sees
        # the connection coming from the pooler's unix socket, not from a TCP client
        assert rows(conn, "SELECT inet_client_addr() IS NULL") == [(True,)]
    new_role = RoleSpec("app_user", "app-Pw-2")
    backend.create_role("p1", "br-main", new_role)
    with connect(spec, pooled=True, role=new_role) as conn:  # auth file reloaded
        assert rows(conn, "SELECT current_user") == [("app_user",)]


def test_start_and_suspend_act_on_the_real_process(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    backend.start_endpoint("p1", spec.endpoint_id)
    assert backend.endpoint_state("p1", spec.endpoint_id) == "active"
    [pid] = backend.running_pids()
    backend.restart_endpoint("p1", spec.endpoint_id)
    [pid2] = backend.running_pids()
    assert pid2 != pid
    backend.suspend_endpoint("p1", spec.endpoint_id)
    assert backend.endpoint_state("p1", spec.endpoint_id) == "idle"
    assert backend.running_pids() == []


def test_idle_endpoint_suspends_and_wakes_on_next_connection(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main", suspend=1)
    with connect(spec) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (7)")
        time.sleep(1.5)  # an open connection keeps it active
        assert backend.endpoint_state("p1", spec.endpoint_id) == "active"
    assert _wait_for(lambda: backend.endpoint_state("p1", spec.endpoint_id) == "idle")
    assert _wait_for(lambda: backend.running_pids() == [])
    with connect(spec) as conn:
        assert rows(conn, "SELECT x FROM t") == [(7,)]
    assert backend.endpoint_state("p1", spec.endpoint_id) == "active"


def test_usage_counts_real_activity(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main", min_cu=2)
    with connect(spec) as conn:
        conn.execute("CREATE TABLE t AS SELECT g, repeat('x', 100) AS pad"
                     " FROM generate_series(1, 20000) g")
        conn.execute("SELECT * FROM t").fetchall()
        time.sleep(1.1)
    backend.suspend_endpoint("p1", spec.endpoint_id)
    usage = backend.usage("p1")["br-main"]
    assert usage.written_data_bytes > 2_000_000
    assert usage.data_transfer_bytes > 2_000_000
    assert usage.logical_size_bytes > 2_000_000
    assert usage.active_time_seconds >= 1
    assert usage.compute_time_seconds >= 2 * usage.active_time_seconds - 1


def test_quota_breach_suspends_computes_and_refuses_wakeups(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    backend.set_quota("p1", QuotaPolicy(data_transfer_bytes=200_000))
    with pytest.raises(psycopg.OperationalError):
        with connect(spec) as conn:
            conn.execute("SELECT repeat('x', 1000) FROM generate_series(1, 1000)").fetchall()
            assert _wait_for(lambda: backend.quota_exceeded("p1") is not None)
            conn.execute("SELECT 1")  # the compute was suspended under us
    assert backend.quota_exceeded("p1") == "data_transfer_bytes"
    assert _wait_for(lambda: backend.running_pids() == [])
    assert backend.endpoint_state("p1", spec.endpoint_id) == "idle"
    with pytest.raises(psycopg.OperationalError, match="exceeded the data_transfer_bytes quota"):
        connect(spec)
    with pytest.raises(Exception, match="quota"):
        backend.start_endpoint("p1", spec.endpoint_id)
    backend.set_quota("p1", QuotaPolicy(data_transfer_bytes=0))  # raised: unlimited
    assert backend.quota_exceeded("p1") is None
    with connect(spec) as conn:
        assert rows(conn, "SELECT 1") == [(1,)]


def test_logical_size_quota_keeps_compute_running_but_refuses_writes(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    with connect(spec) as conn:
        conn.execute("CREATE TABLE t (x int)")
        backend.set_quota("p1", QuotaPolicy(logical_size_bytes=1_000_000))
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO t VALUES (1)")
        assert rows(conn, "SELECT count(*) FROM t") == [(0,)]
    assert backend.endpoint_state("p1", spec.endpoint_id) == "active"
    backend.set_quota("p1", QuotaPolicy(logical_size_bytes=0))
    with connect(spec) as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def test_roles_and_databases_apply_to_the_branch(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    backend.start_endpoint("p1", spec.endpoint_id)
    backend.create_database("p1", "br-main", "appdb", "neondb_owner")
    with connect(spec, dbname="appdb") as conn:
        conn.execute("CREATE TABLE a (x int)")
    rotated = RoleSpec(OWNER.name, "rotated-Pw-3")
    backend.set_role_password("p1", "br-main", rotated)
    with pytest.raises(psycopg.OperationalError):
        connect(spec)
    with connect(spec, role=rotated, dbname="appdb") as conn:
        assert rows(conn, "SELECT count(*) FROM a") == [(0,)]
    assert "CREATE TABLE public.a" in backend.branch_schema("p1", "br-main", "appdb")
    backend.delete_database("p1", "br-main", "appdb")
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        connect(spec, role=rotated, dbname="appdb")


def test_shutdown_stops_everything(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    with connect(spec, pooled=True) as conn:
        conn.execute("SELECT 1")
    assert backend.running_pids()
    backend.shutdown()
    assert backend.running_pids() == []
    # the fixture also checks that no postgres/pgbouncer process mentions the data dir


def test_read_only_endpoint_refuses_writes_on_the_shared_branch(backend, endpoint):
    _root(backend)
    rw = endpoint("p1", "br-main")
    with connect(rw) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    ro = endpoint("p1", "br-main")
    ro.read_only = True
    backend.update_endpoint("p1", ro)
    for pooled in (False, True):
        with connect(ro, pooled=pooled) as conn:
            assert rows(conn, "SELECT x FROM t") == [(1,)]
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO t VALUES (2)")
    with connect(rw) as conn:
        conn.execute("INSERT INTO t VALUES (3)")


def test_a_new_backend_stops_an_orphaned_postmaster_before_starting(data_dir, endpoint):
    from .conftest import free_port

    first = PostgresBackend(data_dir / "compute", endpoint_port=free_port())
    _root(first)
    first.start_endpoint("p1", _register(first, "br-main").endpoint_id)
    [orphan] = first.running_pids()
    first._closed.set()  # simulate a killed emulator: its processes stay behind
    second = PostgresBackend(data_dir / "compute", endpoint_port=free_port())
    try:
        spec = _register(second, "br-main")
        with connect(spec) as conn:
            assert rows(conn, "SELECT 1") == [(1,)]
        assert orphan not in second.running_pids()
        assert first.branch("p1", "br-main").cluster.proc.wait(10) is not None
    finally:
        second.shutdown()
        first._closed.clear()
        first.shutdown()


def _register(be: PostgresBackend, branch: str):
    from neon_emulator.compute.backend import EndpointAddress, EndpointSpec

    from .conftest import _hosts

    n = next(_hosts)
    spec = EndpointSpec(
        endpoint_id=f"ep-orphan-{n}", branch_id=branch, suspend_timeout_seconds=-1,
        address=EndpointAddress(f"127.1.{n // 256 % 256}.{n % 256}",
                                f"127.2.{n // 256 % 256}.{n % 256}", be.endpoint_port),
        roles=[OWNER],
    )
    be.register_endpoint("p1", spec)
    return spec


def test_active_time_quota_suspends_a_running_compute(backend, endpoint):
    _root(backend)
    spec = endpoint("p1", "br-main")
    backend.set_quota("p1", QuotaPolicy(active_time_seconds=1))
    backend.start_endpoint("p1", spec.endpoint_id)
    assert _wait_for(lambda: backend.endpoint_state("p1", spec.endpoint_id) == "idle")
    assert backend.quota_exceeded("p1") == "active_time_seconds"
    assert _wait_for(lambda: backend.running_pids() == [])
    assert backend.usage("p1")["br-main"].active_time_seconds >= 1


def test_concurrent_connections_to_a_suspended_endpoint_all_wake_it(backend, endpoint):
    from concurrent.futures import ThreadPoolExecutor

    _root(backend)
    spec = endpoint("p1", "br-main")

    def query(i: int) -> int:
        with connect(spec, pooled=bool(i % 2)) as conn:
            return conn.execute("SELECT %s::int", (i,)).fetchone()[0]

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(query, range(6))) == list(range(6))
    assert len(backend.running_pids()) == 1


def test_relative_data_dir_works(data_dir, monkeypatch):
    from .conftest import free_port

    monkeypatch.chdir(data_dir)
    be = PostgresBackend(Path("rel") / "compute", endpoint_port=free_port())
    try:
        _root(be)
        spec = _register(be, "br-main")
        with connect(spec) as conn:
            assert rows(conn, "SELECT 1") == [(1,)]
    finally:
        be.shutdown()


def test_a_new_backend_reaps_processes_of_a_killed_one(data_dir):
    from .conftest import free_port, postgres_pids_with

    first = PostgresBackend(data_dir / "compute", endpoint_port=free_port())
    _root(first)
    spec = _register(first, "br-main")
    with connect(spec, pooled=True) as conn:
        conn.execute("SELECT 1")
    assert len(postgres_pids_with(first.rundir)) == 2  # postmaster + pgbouncer
    first._closed.set()  # simulate a killed emulator: its processes stay behind
    second = PostgresBackend(data_dir / "compute", endpoint_port=free_port())
    try:
        assert postgres_pids_with(data_dir) == []
        assert postgres_pids_with(first.rundir) == []
    finally:
        second.shutdown()
        first._closed.clear()
        first.shutdown()
