"""A throwaway PostgreSQL 15 server (initdb + postgres on 127.0.0.1), for tests and benchmarks.

The PostgreSQL mode needs a database; CI and `make bench` get one from the bootstrap's
PostgreSQL 15 here. PostgreSQL refuses to run as root, so as root the server runs as the
Debian `postgres` user (like the emulator's clusters). Password authentication (scram) is
on, so tests see a real password travel, and can check it never shows.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

PG_BIN = Path(os.environ.get("NEON_EMULATOR_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "neon_tenants"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` -> `postgresql://neon_tenants:PW@127.0.0.1:P/DB`."""

    def __init__(self, root: Path | None = None, *, dbname: str = "neon_tenants") -> None:
        self._own_root = root is None
        self.root = Path(root or tempfile.mkdtemp(prefix="nt-pg-"))
        self.dbname = dbname
        self.port = _free_port()
        self.password = secrets.token_urlsafe(18)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return (
            f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{self.dbname}"
            "?sslmode=disable"
        )

    def _admin_url(self) -> str:
        return self.url.replace(f"/{self.dbname}?", "/postgres?")

    def start(self) -> None:
        pgdata = self.root / "pgdata"
        self.root.chmod(0o755)
        for parent in self.root.parents:  # let the postgres user reach the data dir
            if parent.stat().st_mode & 0o001 == 0:
                parent.chmod(parent.stat().st_mode | 0o001)
        pwfile = self.root / "pw"
        pwfile.write_text(self.password, encoding="utf-8")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        env = {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(pgdata), "-U", SUPERUSER, "--auth=scram-sha-256",
             f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
            env=env, cwd="/", check=True, capture_output=True, timeout=120, **_as_postgres(),
        )
        pwfile.unlink()
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - owned by the server's lifetime
        self._proc = subprocess.Popen(
            [str(PG_BIN / "postgres"), "-D", str(pgdata), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "fsync=off", "-c", "max_connections=200"],
            env=env, cwd="/", stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            **_as_postgres(),
        )
        log.close()
        self._wait_ready()
        with psycopg.connect(self._admin_url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError("postgres exited during start; see " + str(self.root))
            try:
                with psycopg.connect(self._admin_url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("postgres did not become ready") from None
                time.sleep(0.1)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown (SIGTERM is "smart": waits)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
