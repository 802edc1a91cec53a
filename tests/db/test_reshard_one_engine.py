"""Resharding to and from one shard (stack `free` <-> `free-00..NN`): state only, same project
ids, clean previews, resumable. Real PostgreSQL 15 (rows, queue, state), the real engine, a
`neon-tenants worker` process and the metadata emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.catalog import load_catalog
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.sharding import shard_of, stack_name
from neon_tenants.fleet.spec import TenantSpec
from neon_tenants.jobs import ShardQueue
from tests.db._hosts import Platform
from tests.db.test_queue_engine import _host_engine

pytestmark = [pytest.mark.engine, pytest.mark.slow]

TENANTS = [f"one-{i}" for i in range(6)]


@pytest.fixture(scope="module")
def platform(
    fresh_db: Any, metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    url = fresh_db()
    migrate(url)
    p = Platform(url, metadata_emulator, tmp_path_factory.mktemp("reshard-one"))
    p.start_worker("w1")
    q = ShardQueue(PostgresFleetStore(url, max_size=2), url, load_catalog(),
                   default_shards={"free": 1})
    try:
        for tid in TENANTS:
            q.request("free", TenantSpec(id=tid))
        assert [q.wait(t, timeout=600).status for t in TENANTS] == ["ready"] * len(TENANTS)
        yield p
    finally:
        q.close()
        q.store.close()
        p.stop()


def _state(platform: Platform) -> tuple[list[str], dict[str, list[str]]]:
    """(the tier's stacks, tenant -> project ids found in their outputs)."""
    found: dict[str, list[str]] = {}
    with _host_engine(platform, "reader") as engine:
        names = sorted(n for n in engine.stack_names() if n.split("-")[0] == "free")
        for name in names:
            for tenant, value in engine.outputs(name).items():
                found.setdefault(tenant, []).append(value["project_id"])
    return names, found


def _preview_clean(platform: Platform, shards: int) -> None:
    from neon_tenants.fleet.program import build_program

    store = PostgresFleetStore(platform.url, max_size=1)
    try:
        for s in range(shards):
            snap = store.shard_snapshot("free", s, mark_applying=False)
            program = build_program("free", s if shards > 1 else None, snap.fleet(),
                                    load_catalog())
            with _host_engine(platform, "previewer") as engine:
                result = engine.stack(stack_name("free", s, shards)).preview(
                    program=program, color="never")
            changes = {k: v for k, v in (result.change_summary or {}).items() if k != "same"}
            assert changes == {}, (s, changes)
    finally:
        store.close()


def _reshard(platform: Platform, shards: int) -> str:
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = platform.env("resharder")
    calls = platform.emu.admin("GET", "/_emulator/state")["requests_total"]
    done = subprocess.run([exe, "reshard", "--tier", "free", "--shards", str(shards), "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert platform.emu.admin("GET", "/_emulator/state")["requests_total"] == calls  # no Neon
    return done.stdout


def test_one_to_three_and_back_keeps_every_project_id(platform: Platform) -> None:
    from neon_tenants.db.reshard import _States, copy_tenant

    names, before = _state(platform)
    assert names == ["free"] and sorted(before) == TENANTS
    assert all(len(ids) == 1 for ids in before.values())

    # an interrupted earlier 1 -> 3: one tenant copied, its row not yet re-pointed
    victim = TENANTS[0]
    dst = f"free-{shard_of(victim, 3):02d}"
    with _host_engine(platform, "crashed-resharder") as engine:
        states = _States(engine)
        assert copy_tenant(states.get("free"), states.get(dst), victim, "free", dst)
        states.dirty.add(dst)
        states.save()

    first = json.loads(_reshard(platform, 3))
    assert first["shards"] == "1 -> 3" and first["moved"] == len(TENANTS)
    assert first["leftovers_dropped"] == [f"{victim}@free"]  # the interrupted run's copy
    names, after = _state(platform)
    assert names == ["free-00", "free-01", "free-02"]  # `free` removed once empty
    assert after == before  # same project per tenant, each in exactly one stack
    _preview_clean(platform, 3)
    assert '"moved": 0' in _reshard(platform, 3)  # a rerun has nothing left to do

    assert '"shards": "3 -> 1"' in _reshard(platform, 1)
    names, back = _state(platform)
    assert names == ["free"] and back == before
    _preview_clean(platform, 1)
