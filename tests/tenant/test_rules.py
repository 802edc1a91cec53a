"""The one tenant model and its rules: every failure names the field, what is allowed and
the tier; point-in-time requests are checked against the tier's retention window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from neon_tenants.catalog import Limits, builtin_catalog
from neon_tenants.fleet import DevBranchEntry, SnapshotEntry
from neon_tenants.providers import DevBranchSpec as ProviderBranch
from neon_tenants.tenant import (
    DevBranchSpec,
    SnapshotSpec,
    TenantInvalid,
    TenantSpec,
    failures,
    require_valid,
)

CAT = builtin_catalog()
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def lim(tier: str) -> Limits:
    t = CAT.tiers[tier]
    return Limits.of(t, CAT.orgs[t.org])


def test_one_model_for_fleet_and_providers() -> None:
    assert DevBranchEntry is DevBranchSpec is ProviderBranch
    assert SnapshotEntry is SnapshotSpec


@pytest.mark.parametrize("bad", ["admin", "main", "production"])
def test_reserved_ids_are_refused_by_the_model(bad: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        TenantSpec(id=bad)


def test_failures_name_field_allowed_values_and_tier() -> None:
    spec = TenantSpec(
        id="acme",
        quota_overrides={"cpu": 1},
        compute_overrides={"max_cu": 4, "colour": 1},
        dev_branches=tuple(DevBranchSpec(name=f"d{i}") for i in range(10)),
        snapshots=(SnapshotSpec(name="a"), SnapshotSpec(name="b")),
    )
    found = {f.property: f.reason for f in failures(spec, CAT.tiers["free"], lim("free"))}
    assert "active_time_seconds" in found["quota_overrides.cpu"]
    assert "0.25-2" in found["compute_overrides.max_cu"]
    assert "tier free" in found["compute_overrides.max_cu"]
    assert "min_cu" in found["compute_overrides.colour"]
    assert "cap of 10" in found["dev_branches"] and "tier free" in found["dev_branches"]
    assert "tier free" in found["snapshots"]


def test_live_undeclared_branches_count_against_the_cap() -> None:
    spec = TenantSpec(id="acme", dev_branches=(DevBranchSpec(name="dev"),))
    assert failures(spec, CAT.tiers["free"], lim("free"), extra_branches=8) == []
    over = failures(spec, CAT.tiers["free"], lim("free"), extra_branches=9)
    assert [f.property for f in over] == ["dev_branches"]


def test_point_in_time_outside_the_window_names_the_window() -> None:
    old = DevBranchSpec(name="past", parent_timestamp=NOW - timedelta(days=2))
    spec = TenantSpec(id="acme", dev_branches=(old,))
    with pytest.raises(TenantInvalid) as info:
        require_valid(spec, CAT.tiers["free"], lim("free"), now=NOW)
    text = str(info.value)
    assert "dev_branches[0].parent_timestamp" in text and "tier free" in text
    assert "2026-11-27T08:00:00+00:00" in text and "86400 s" in text
    # inside the pro window (7 days) it is fine; an unchanged old branch is not re-checked
    require_valid(spec, CAT.tiers["pro"], lim("pro"), now=NOW)
    require_valid(spec, CAT.tiers["free"], lim("free"), before=spec, now=NOW)


def test_branch_needs_one_point_in_time_at_most() -> None:
    with pytest.raises(ValueError, match="not both"):
        DevBranchSpec(name="x", parent_timestamp=NOW, parent_lsn="0/16B3748")
    with pytest.raises(ValueError):
        DevBranchSpec(name="x", parent_lsn="not-an-lsn")
