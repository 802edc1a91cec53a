"""The program builder: fleet entry + tier -> the component's validated inputs."""

from __future__ import annotations

import pytest

from neon_tenants.catalog import load_catalog
from neon_tenants.fleet import DevBranchEntry, FleetSpec, SnapshotEntry, TenantSpec
from neon_tenants.fleet.program import build_program, tenant_args

CATALOG = load_catalog(None)


def test_tenant_args_carry_overrides_branches_and_snapshots() -> None:
    spec = TenantSpec(
        id="acme",
        quota_overrides={"active_time_seconds": 1000},
        compute_overrides={"max_cu": 1},
        dev_branches=(DevBranchEntry(name="feat", max_cu=0.5),),
        snapshots=(SnapshotEntry(name="nightly", pinned=True),),
        adopt_project_id="proj-123",
    )
    tier = CATALOG.tiers["pro"]
    args = tenant_args(spec, tier, "nt", CATALOG.orgs[tier.org])
    assert args.tenant_id == "acme" and args.tier.name == "pro"
    assert args.quota.active_time_seconds == 1000
    assert args.max_cu == 1.0
    assert [(b.name, b.max_cu) for b in args.dev_branches] == [("feat", 0.5)]
    assert [(s.name, s.pinned) for s in args.snapshots] == [("nightly", True)]
    assert args.adopt_project_id == "proj-123"
    assert args.project_name == "nt-acme"  # no tier in the name: a move keeps it


def test_build_program_refuses_a_fleet_of_another_tier() -> None:
    with pytest.raises(ValueError, match="fleet is for tier 'free'"):
        build_program("pro", None, FleetSpec(tier="free"), CATALOG)


def test_build_program_refuses_an_unknown_tier() -> None:
    with pytest.raises(ValueError, match="not in the catalog"):
        build_program("gold", None, FleetSpec(tier="gold"), CATALOG)


def test_build_program_validates_every_tenant_before_the_engine_starts() -> None:
    fleet = FleetSpec(
        tier="free",
        tenants=(TenantSpec(id="ok-1"), TenantSpec(id="bad", compute_overrides={"max_cu": 64})),
    )
    with pytest.raises(ValueError):
        build_program("free", None, fleet, CATALOG)


def test_build_program_requires_a_shard_for_a_sharded_tier() -> None:
    with pytest.raises(ValueError, match="pick one"):
        build_program("free", None, FleetSpec(tier="free", shards=2), CATALOG)
