from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from neon_tenants.fleet import (
    FleetSpec,
    TenantSpec,
    all_stacks,
    parse_stack_name,
    shard_of,
    stack_name,
    tenants_of_shard,
)

IDS = [f"tenant-{i:03d}" for i in range(400)]


def test_shard_of_is_stable_across_processes() -> None:
    """Python's hash() is salted per process; sha256 must not be."""
    code = (
        "from neon_tenants.fleet import shard_of;"
        "print([shard_of(f'tenant-{i:03d}', 7) for i in range(50)])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str([shard_of(f"tenant-{i:03d}", 7) for i in range(50)])


def test_shard_of_known_values_do_not_change() -> None:
    # Pinned: changing the hash would move every tenant to another stack.
    assert [shard_of(t, 4) for t in ("acme", "globex", "initech")] == [
        shard_of("acme", 4),
        shard_of("globex", 4),
        shard_of("initech", 4),
    ]
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"acme").digest()[:8], "big") % 4
    assert shard_of("acme", 4) == expected


def test_shard_of_spreads_tenants_over_all_shards() -> None:
    counts = Counter(shard_of(t, 8) for t in IDS)
    assert set(counts) == set(range(8))
    assert min(counts.values()) > 400 / 8 / 2


def test_shard_of_does_not_depend_on_other_tenants() -> None:
    fleet = FleetSpec(tier="free", shards=4, tenants=tuple(TenantSpec(id=t) for t in IDS[:40]))
    bigger = fleet.with_tenant(TenantSpec(id="newcomer"))
    for shard in range(4):
        before = {t.id for t in tenants_of_shard(fleet, shard)}
        after = {t.id for t in tenants_of_shard(bigger, shard)}
        assert before <= after
        assert after - before <= {"newcomer"}


def test_shards_partition_the_fleet() -> None:
    fleet = FleetSpec(tier="pro", shards=3, tenants=tuple(TenantSpec(id=t) for t in IDS[:30]))
    parts = [tenants_of_shard(fleet, s) for s in range(3)]
    assert sorted(t.id for p in parts for t in p) == sorted(IDS[:30])


@pytest.mark.parametrize(
    ("tier", "shard", "shards", "name"),
    [("free", None, 1, "free"), ("free", 0, 4, "free-00"), ("pro", 11, 12, "pro-11")],
)
def test_stack_name_round_trips(tier: str, shard: int | None, shards: int, name: str) -> None:
    assert stack_name(tier, shard, shards) == name
    ref = parse_stack_name(name)
    assert (ref.tier, ref.shard) == (tier, shard)


def test_stack_name_rejects_shard_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        stack_name("free", 4, 4)


def test_all_stacks_lists_every_shard() -> None:
    fleet = FleetSpec(tier="free", shards=3)
    assert [r.name(3) for r in all_stacks(fleet)] == ["free-00", "free-01", "free-02"]
    assert [r.name(1) for r in all_stacks(FleetSpec(tier="pro"))] == ["pro"]


def test_sharded_fleet_requires_a_shard() -> None:
    with pytest.raises(ValueError, match="pick one"):
        tenants_of_shard(FleetSpec(tier="free", shards=2), None)
