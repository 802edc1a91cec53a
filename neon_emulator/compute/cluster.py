"""One PostgreSQL cluster (of its branch's major, see majors.py): a data dir, its postmaster
process and admin SQL.

Clusters listen only on a unix socket in a private runtime dir (no TCP port to allocate or
collide on); clients reach them through the loopback proxy. The admin role ``cloud_admin``
(as in Neon) is trusted on that socket only; every other role needs its SCRAM password.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from . import _proc, majors
from ._scram import verifier
from .backend import ComputeError

ADMIN = "cloud_admin"
SOCKET_PORT = 5432

# Lean settings for many small clusters on a small machine. fsync=off: an emulator cluster
# need not survive a power cut, and it makes commits and copies much cheaper.
BASE_CONF = """
# --- neon emulator ---
listen_addresses = ''
port = 5432
max_connections = 20
superuser_reserved_connections = 2
shared_buffers = 16MB
work_mem = 4MB
maintenance_work_mem = 16MB
max_worker_processes = 4
max_parallel_workers = 0
max_parallel_workers_per_gather = 0
autovacuum_max_workers = 1
dynamic_shared_memory_type = mmap  # in the data dir: nothing left in /dev/shm by a crash
huge_pages = off
fsync = off
wal_level = replica
max_wal_senders = 4
min_wal_size = 4MB
max_wal_size = 64MB
archive_mode = on
archive_command = 'cp %p ../archive/%f.tmp && mv ../archive/%f.tmp ../archive/%f'
password_encryption = 'scram-sha-256'
unix_socket_permissions = 0700
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_min_error_statement = panic
include_if_exists = 'neon_emulator.conf'
"""

HBA = """# neon emulator: admin trusted on the private socket, everyone else by password
local all cloud_admin trust
local replication cloud_admin trust
local all all scram-sha-256
"""


def _alive(pid: int) -> bool:
    """Running (a zombie has exited: its parent just has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def reap_orphans(markers: list[str], timeout: float = 30.0) -> list[int]:
    """Stop postmasters/pgbouncers left by a killed emulator: processes whose command line
    names one of ``markers`` (the data dir, the previous runtime dir). Returns their pids."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or not args[0].endswith((b"postgres", b"pgbouncer")):
            continue
        if any(m.encode() in arg for m in markers for arg in args[1:]):
            found.append(int(proc.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in found:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return found


class Cluster:
    """A postmaster we started (or not yet) for one data dir. Not thread-safe: callers lock."""

    def __init__(self, pgdata: Path, sockdir: Path, major: int = 15) -> None:
        self.pgdata = pgdata
        self.sockdir = sockdir
        self.major = major
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None

    @property
    def log(self) -> Path:
        return self.pgdata.parent / "postgres.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc else None

    def start(self, *, timeout: float = 60.0, wait_promoted: bool = True) -> None:
        """Start the postmaster and wait until it accepts (read-write) connections."""
        if self.running:
            return
        self.sockdir.mkdir(parents=True, exist_ok=True)
        _proc.own(self.sockdir, mode=0o700)
        self._stop_orphan()
        cmd = [
            str(majors.server_bin(self.major) / "postgres"),
            "-D", str(self.pgdata),
            "-c", f"unix_socket_directories={self.sockdir}",
        ]
        self.proc = _proc.spawn(cmd, log=self.log)
        self.started_at = time.monotonic()
        self._wait_ready(timeout, wait_promoted)

    def _stop_orphan(self, timeout: float = 30.0) -> None:
        """A postmaster left by a killed emulator still owns this data dir: stop it first
        (two postmasters on one data dir would corrupt it), then drop its pid file."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
            # the pid may have been reused: only a postmaster of this very data dir counts
            alive = str(self.pgdata).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            alive = False
        if alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)

    def _wait_ready(self, timeout: float, wait_promoted: bool) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                self.proc = None
                raise ComputeError(f"postgres exited during start: {self.log_tail()}")
            if (self.sockdir / f".s.PGSQL.{SOCKET_PORT}").exists():
                try:
                    with self.connect(connect_timeout=2) as conn:
                        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                        if not (wait_promoted and row and row[0]):
                            return
                except psycopg.OperationalError:
                    pass
            if time.monotonic() > deadline:
                self.stop(mode="immediate")
                raise ComputeError(f"postgres did not become ready in {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def stop(self, *, mode: str = "fast", timeout: float = 30.0) -> None:
        """Stop the postmaster (SIGINT = fast shutdown; escalate if it hangs)."""
        proc = self.proc
        self.proc = None
        self.started_at = None
        if proc is None or proc.poll() is not None:
            return
        sig = signal.SIGQUIT if mode == "immediate" else signal.SIGINT
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def log_tail(self, n: int = 600) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:].strip()
        except OSError:
            return ""

    # -- SQL ------------------------------------------------------------------------------
    def connect(self, dbname: str = "postgres", **kw: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.sockdir), port=SOCKET_PORT, user=ADMIN, dbname=dbname,
            autocommit=True, options="-c default_transaction_read_only=off", **kw,
        )

    @contextmanager
    def admin(self, dbname: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
        """An admin session; SQL errors become ComputeError with the server's primary
        message only (never the statement, which may carry a password verifier)."""
        if not self.running:
            raise ComputeError("cluster is not running")
        try:
            with self.connect(dbname) as conn:
                yield conn
        except psycopg.Error as exc:
            primary = exc.diag.message_primary or type(exc).__name__
            status = 404 if exc.sqlstate == "3D000" else 400 if exc.sqlstate else 500
            raise ComputeError(primary, status=status) from None

    def scalar(self, query: str, dbname: str = "postgres") -> Any:
        with self.admin(dbname) as conn:
            row = conn.execute(query).fetchone()
            return row[0] if row else None

    def current_lsn(self) -> str:
        return str(self.scalar("SELECT pg_current_wal_insert_lsn()"))

    def archive_now(self, archive: Path, timeout: float = 30.0) -> str:
        """Commit a dummy transaction, switch WAL and wait until the segment is archived.

        Recovery to a target needs a commit record after the target and all WAL in the
        archive, or it ends with "recovery ended before configured recovery target was
        reached". Returns the LSN after the dummy commit.
        """
        with self.admin() as conn:
            conn.execute("SELECT pg_current_xact_id()")
            lsn = str(conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0])  # type: ignore[index]
            row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
            segment = str(row[0]) if row else ""
        deadline = time.monotonic() + timeout
        while not (archive / segment).exists():
            if time.monotonic() > deadline:
                raise ComputeError(f"WAL segment {segment} was not archived in {timeout:.0f}s")
            time.sleep(0.01)
        return lsn

    def apply_roles(self, roles: list[tuple[str, str]]) -> None:
        """Create missing login roles (Neon's owner rights) and set their passwords."""
        with self.admin() as conn:
            for name, password in roles:
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)
                ).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(
                    sql.SQL(verb + " ROLE {} WITH LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(verifier(password))
                    )
                )

    def drop_role(self, name: str) -> None:
        with self.admin() as conn:
            dbs = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn"
            ).fetchall()]
        for db in dbs:
            with self.admin(db) as conn:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname=%s", (name,)).fetchone():
                    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        with self.admin() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))

    def apply_databases(self, databases: list[tuple[str, str]]) -> None:
        with self.admin() as conn:
            for name, owner in databases:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
                    continue
                # FILE_COPY: WAL_LOG (the default from 15) would write the whole template
                # database into WAL and the archive; 14 knows only file copy
                strategy = sql.SQL(" STRATEGY FILE_COPY" if self.major >= 15 else "")
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}{}").format(
                        sql.Identifier(name), sql.Identifier(owner), strategy
                    )
                )

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def usage_sample(self) -> tuple[str, int]:
        """(insert LSN, logical size) in one round trip."""
        with self.admin() as conn:
            row = conn.execute(
                "SELECT pg_current_wal_insert_lsn()::text, (SELECT coalesce(sum("
                "pg_database_size(oid)), 0) FROM pg_database WHERE NOT datistemplate)"
            ).fetchone()
        assert row is not None
        return str(row[0]), int(row[1])

    def logical_size(self) -> int:
        return int(self.scalar(
            "SELECT coalesce(sum(pg_database_size(oid)), 0) FROM pg_database"
            " WHERE NOT datistemplate"
        ))

    def set_read_only(self, on: bool) -> None:
        """Over the logical size quota writes fail: default_transaction_read_only + reload."""
        with self.admin() as conn:
            if on:
                conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
            else:
                conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
            # a reload reaches every session that has not SET it itself
            conn.execute("SELECT pg_reload_conf()")
        # The postmaster signals every backend as it reloads; once a new session sees the
        # value, existing sessions apply it before their next command.
        want = "on" if on else "off"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with psycopg.connect(host=str(self.sockdir), port=SOCKET_PORT, user=ADMIN,
                                 dbname="postgres", autocommit=True) as fresh:
                row = fresh.execute("SHOW default_transaction_read_only").fetchone()
            if row and row[0] == want:
                return
            time.sleep(0.02)
