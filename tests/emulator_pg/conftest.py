"""Fixtures for the real-PostgreSQL compute backend, tested directly (no control plane)."""

from __future__ import annotations

import itertools
import os
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from neon_emulator.compute.backend import EndpointAddress, EndpointSpec, RoleSpec
from neon_emulator.compute.postgres import PostgresBackend

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = RoleSpec("neondb_owner", "s3cret-Pw_1")
DBS = [("neondb", "neondb_owner")]

if not (PG_BIN / "postgres").exists():  # pragma: no cover - the bootstrap installs it
    pytest.skip("PostgreSQL 15 is not installed", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_hosts = itertools.count(random.randrange(1, 200) * 256)


def postgres_pids_with(path: Path) -> list[int]:
    """Pids of live postgres/pgbouncer processes whose command line mentions path."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z" or not args[0].endswith((b"postgres", b"pgbouncer")):
            continue
        if any(str(path).encode() in arg for arg in args[1:]):
            found.append(int(proc.name))
    return found


def _scratch() -> str | None:
    """tmpfs when there is room: copying data dirs on this machine's disk is 10-20x slower."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 2 * 1024**3:
        return str(shm)
    return None


@pytest.fixture(scope="session")
def template_dir() -> Iterator[Path]:
    """initdb once for the session; each test's data dir starts with a copy of it."""
    path = Path(tempfile.mkdtemp(prefix="nemu-tpl-", dir=_scratch()))
    try:
        be = PostgresBackend(path / "compute", endpoint_port=free_port())
        be.layout.ensure_template(15)
        be.shutdown()
        yield path / "compute" / "template"
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_dir(template_dir: Path) -> Iterator[Path]:
    """A data dir outside /tmp/pytest-of-root: another pytest session starting meanwhile
    resets that dir to 0700, which would hide our clusters from the postgres user."""
    path = Path(tempfile.mkdtemp(prefix="nemu-test-", dir=_scratch()))
    (path / "compute").mkdir()
    subprocess.run(["cp", "-a", str(template_dir), str(path / "compute" / "template")],
                   check=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def backend(data_dir: Path) -> Iterator[PostgresBackend]:
    be = PostgresBackend(data_dir / "compute", endpoint_port=free_port(), monitor_interval=0.2)
    try:
        yield be
    finally:
        be.shutdown()
    leftover = postgres_pids_with(data_dir) + postgres_pids_with(be.rundir)
    assert leftover == [], f"processes left running: {leftover}"


Endpoint = Callable[..., EndpointSpec]


@pytest.fixture
def endpoint(backend: PostgresBackend) -> Endpoint:
    """Register an endpoint on a fresh loopback address pair and return its spec."""

    def make(project: str, branch: str, *, suspend: int = -1, min_cu: float = 0.25) -> EndpointSpec:
        n = next(_hosts)
        addr = EndpointAddress(
            host=f"127.1.{n // 256 % 256}.{n % 256}",
            pooler_host=f"127.2.{n // 256 % 256}.{n % 256}",
            port=backend.endpoint_port,
        )
        spec = EndpointSpec(
            endpoint_id=f"ep-{project}-{branch}-{n}", branch_id=branch, address=addr,
            min_cu=min_cu, max_cu=min_cu, suspend_timeout_seconds=suspend, roles=[OWNER],
        )
        backend.register_endpoint(project, spec)
        return spec

    return make


def connect(spec: EndpointSpec, *, pooled: bool = False, role: RoleSpec = OWNER,
            dbname: str = "neondb") -> psycopg.Connection:
    host = spec.address.pooler_host if pooled else spec.address.host
    return psycopg.connect(
        host=host, port=spec.address.port, user=role.name, password=role.password,
        dbname=dbname, sslmode="disable", connect_timeout=30, autocommit=True,
        prepare_threshold=None,
    )


def uri(spec: EndpointSpec, *, pooled: bool = False) -> str:
    host = spec.address.pooler_host if pooled else spec.address.host
    return (f"postgresql://{OWNER.name}:{OWNER.password}@{host}:{spec.address.port}/neondb"
            "?sslmode=disable")


def rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


os.environ.setdefault("PGCONNECT_TIMEOUT", "30")
