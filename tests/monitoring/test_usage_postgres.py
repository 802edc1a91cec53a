"""Real usage numbers: write through a tenant's connection URI, see the poller's reading move.

Real PostgreSQL 15 behind each branch: written data comes from WAL position deltas and
logical size from database sizes, as Neon measures them. The module starts its own emulator
(like tests/emulator_pg) with a free endpoint port: the session `emulator` fixture listens on
127.1.0.1:5432, which any other emulator on the machine may already hold. The data dir is
outside pytest's tmp root, which a concurrent pytest session may reset to 0700 and so hide
the clusters from the postgres user.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.client import NeonClient, ProjectQuota, ProjectSettings, ProjectUpdate
from neon_tenants.client.errors import NeonError
from neon_tenants.monitoring import CallbackSink, Event, Reading, TenantRef
from neon_tenants.monitoring.billing import iter_billing_rows

from .conftest import MakeProject, _factory, client_for
from .test_watch_emulator import build

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def pg_emulator() -> Iterator[Any]:
    from neon_emulator.testing import EmulatorProcess, free_port

    shm = Path("/dev/shm")
    scratch = str(shm) if shm.is_dir() and shutil.disk_usage(shm).free > 2 * 1024**3 else None
    data = Path(tempfile.mkdtemp(prefix="nemu-mon-", dir=scratch))
    try:
        with EmulatorProcess(data, config={"endpoint_port": free_port()}) as emu:
            yield emu
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_neon(pg_emulator: Any) -> Iterator[NeonClient]:
    with client_for(pg_emulator) as client:
        yield client


@pytest.fixture
def pg_project(pg_neon: NeonClient) -> Iterator[MakeProject]:
    yield from _factory(pg_neon, f"monpg{uuid.uuid4().hex[:8]}")


def write_rows(uri: str, rows: int) -> None:
    """~1 KiB per row, below the TOAST threshold so nothing is compressed away."""
    with psycopg.connect(uri, connect_timeout=60, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS blob (id int, body text)")
        conn.execute(
            "INSERT INTO blob SELECT i, repeat(md5(i::text), 32) FROM generate_series(1, %s) i",
            (rows,),
        )


def wait_until_grown(read: Callable[[], Reading], before: Reading, amount: int) -> Reading:
    """Poll until written data and logical size both grew by `amount` bytes."""
    deadline = time.monotonic() + 120
    while True:
        after = read()
        grew = {name: after.used[name] - before.used[name]
                for name in ("written_data_bytes", "logical_size_bytes")}
        if min(grew.values()) >= amount:
            return after
        assert time.monotonic() < deadline, f"usage did not move enough: {grew}"
        time.sleep(0.5)


def test_writes_move_written_bytes_and_logical_size(
    pg_neon: NeonClient, pg_project: MakeProject, pg_emulator: Any, tmp_path: Path
) -> None:
    created = pg_project("writer", "paid", written_data_bytes=4096 * MIB,
                         logical_size_bytes=2048 * MIB)
    org, pid = pg_neon.org("paid"), created.project.id
    ref = TenantRef(tenant="writer", tier="pro", project_id=pid, org="paid")
    fresh = iter(range(1000))

    def read() -> Reading:
        """A first read of the period (new store): written data has no cheap source, so it
        is read per project the first time and then only every 4 hours or near a line."""
        return build(pg_emulator, tmp_path / f"r{next(fresh)}", [ref], []).poller.cycle()[0][0]

    before = read()
    write_rows(created.connection_uris[0].connection_uri.get_secret_value(), 8192)
    # usage is eventually consistent (Neon refreshes it about every 15 minutes; the emulator
    # samples running clusters with a short lag): wait for the counters, then check amounts
    after = wait_until_grown(read, before, 6 * MIB)
    assert after.limits["logical_size_bytes"] == 2048 * MIB
    assert after.sources["written_data_bytes"] == "project"  # no cheap source carries it
    assert after.sources["logical_size_bytes"] == "list"  # synthetic size, an upper bound

    # tighten the quota so the written data sits at ~85 %: the warning must fire, once
    written = after.used["written_data_bytes"]
    org.update_project(
        pid,
        ProjectUpdate(settings=ProjectSettings(quota=ProjectQuota(
            written_data_bytes=int(written / 0.85), logical_size_bytes=2048 * MIB))),
    )  # fmt: skip
    got: list[Event] = []
    svc = build(pg_emulator, tmp_path / "alerts", [ref], [CallbackSink(got.append)])
    svc.run_once()
    svc.run_once()  # near the line now: read again, same level, no second event
    alerts = [e for e in got if e.metric == "written_data_bytes"]
    assert [(e.level, e.tenant) for e in alerts] == [("warning", "writer")], alerts
    assert alerts[0].percent is not None and alerts[0].percent >= 80.0
    with contextlib.suppress(NeonError):  # leave the quota generous for teardown
        org.update_project(pid, ProjectUpdate(settings=ProjectSettings(quota=ProjectQuota())))

    # consumption v2 sees the same storage
    now = datetime.fromisoformat(pg_emulator.admin("GET", "state")["now"].replace("Z", "+00:00"))
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    rows = list(iter_billing_rows(
        org, (now - timedelta(hours=1)).strftime(fmt), (now + timedelta(hours=1)).strftime(fmt),
        "hourly", ["root_branch_bytes_month"], project_ids=[pid],
    ))  # fmt: skip
    assert sum(r.value for r in rows) >= before.used["logical_size_bytes"] + 6 * MIB
