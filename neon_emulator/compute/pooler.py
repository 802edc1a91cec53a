"""PgBouncer in front of one running cluster (transaction mode), as Neon's -pooler hosts.

One pgbouncer per running endpoint, started on the first pooled connection and stopped
with the cluster. It listens on a unix socket in the runtime dir (the proxy forwards the
pooler host to it) and authenticates with SCRAM from an auth_file of the branch's role
passwords (plain text: pgbouncer then does SCRAM both to clients and to the server). The
file is mode 0600, owned by the user pgbouncer runs as.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import _proc
from .backend import ComputeError
from .cluster import SOCKET_PORT

POOLER_PORT = 6432


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


class Pooler:
    def __init__(self, rundir: Path, cluster_sockdir: Path, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self.rundir = rundir
        self.cluster_sockdir = cluster_sockdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.rundir / f".s.PGSQL.{POOLER_PORT}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def write_auth(self, roles: dict[str, str]) -> None:
        path = self.rundir / "users.txt"
        tmp = self.rundir / "users.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            for name, password in sorted(roles.items()):
                out.write(f"{_quote(name)} {_quote(password)}\n")
        _proc.own(tmp, mode=0o600)
        tmp.replace(path)
        if self.running and self.proc is not None:
            self._reload()

    def _reloads(self) -> int:
        try:
            return (self.rundir / "log").read_bytes().count(b"got SIGHUP")
        except OSError:
            return 0

    def _reload(self, timeout: float = 5.0) -> None:
        """SIGHUP, then wait for pgbouncer's "got SIGHUP, re-reading config" line: it
        reloads in that same event-loop turn, so a connection made after the line sees the
        new auth file (without the wait, a role created a moment ago could fail SCRAM)."""
        assert self.proc is not None
        before = self._reloads()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self._reloads() <= before and time.monotonic() < deadline and self.running:
            time.sleep(0.005)

    def _write_config(self) -> Path:
        conf = self.rundir / "pgbouncer.ini"
        extra = " connect_query='SET default_transaction_read_only = on'" if self.read_only \
            else ""
        conf.write_text(
            "[databases]\n"
            f"* = host={self.cluster_sockdir} port={SOCKET_PORT}{extra}\n"
            "[pgbouncer]\n"
            "listen_addr =\n"
            f"listen_port = {POOLER_PORT}\n"
            f"unix_socket_dir = {self.rundir}\n"
            "unix_socket_mode = 0700\n"
            "pool_mode = transaction\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {self.rundir / 'users.txt'}\n"
            "max_client_conn = 100\n"
            "default_pool_size = 5\n"
            "server_reset_query = DISCARD ALL\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"pidfile = {self.rundir / 'pgbouncer.pid'}\n"
            "logfile =\n"
            "log_connections = 0\n"
            "log_disconnections = 0\n"
        )
        _proc.own(conf, mode=0o600)
        return conf

    def _accepts(self) -> bool:
        """The socket file appears at bind(), before listen(): try a real connect."""
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
            return True

    def start(self, roles: dict[str, str], timeout: float = 20.0) -> None:
        if self.running:
            return
        self.rundir.mkdir(parents=True, exist_ok=True)
        _proc.own(self.rundir, mode=0o700)
        self.write_auth(roles)
        conf = self._write_config()
        self.socket.unlink(missing_ok=True)
        self.proc = _proc.spawn([str(_proc.PGBOUNCER), str(conf)], log=self.rundir / "log")
        deadline = time.monotonic() + timeout
        while not self._accepts():
            if self.proc.poll() is not None:
                self.proc = None
                raise ComputeError("pgbouncer exited during start")
            if time.monotonic() > deadline:
                self.stop()
                raise ComputeError("pgbouncer did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # immediate shutdown
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
