"""The built-in catalog follows the guide's tables; YAML overrides merge and are validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from neon_tenants.catalog import Limits, builtin_catalog, load_catalog


def test_builtin_tiers_follow_the_guide() -> None:
    cat = builtin_catalog()
    free, pro = cat.tier("free"), cat.tier("pro")
    assert (free.org, free.quota.active_time_seconds, free.quota.logical_size_bytes) == (
        "free", 360000, 536870912)
    assert free.quota.data_transfer_bytes == 5368709120
    assert (free.snapshot_cap, free.snapshot_policy, free.branch_cap) == (1, "replace", 10)
    assert (pro.org, pro.quota.active_time_seconds, pro.quota.logical_size_bytes) == (
        "paid", 2700000, 10737418240)
    assert (pro.snapshot_cap, pro.snapshot_policy, pro.quota.compute_time_seconds) == (
        10, "evict_oldest", 0)
    assert cat.orgs["free"].min_suspend_timeout_seconds == 300
    assert cat.orgs["paid"].max_cu == 16


def test_unknown_tier_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="enterprise"):
        builtin_catalog().tier("gold")


def test_limits_intersect_tier_and_org() -> None:
    cat = builtin_catalog()
    lim = Limits.of(cat.tier("enterprise"), cat.orgs["paid"])
    assert (lim.max_cu, lim.min_suspend_timeout_seconds, lim.snapshot_cap) == (8, 60, 10)


def test_yaml_override_merges_into_builtin_tier(tmp_path: Path) -> None:
    f = tmp_path / "tiers.yaml"
    f.write_text("tiers:\n  pro:\n    max_cu: 4\n    quota: {logical_size_bytes: 1000}\n")
    pro = load_catalog(f).tier("pro")
    assert pro.max_cu == 4 and pro.quota.logical_size_bytes == 1000
    assert pro.quota.active_time_seconds == 2700000  # untouched keys stay


def test_yaml_tier_outside_its_org_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "tiers.yaml"
    f.write_text("tiers:\n  free:\n    max_cu: 4\n")
    with pytest.raises(ValidationError, match=r"tiers\.free\.max_cu"):
        load_catalog(f)


def test_repo_example_catalog_loads(repo_root: Path) -> None:
    example = repo_root / "stacks" / "tiers.yaml"
    if example.exists():
        assert "startup" in load_catalog(example).tiers
