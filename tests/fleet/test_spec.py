from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from neon_tenants.fleet import (
    DevBranchEntry,
    FleetSpec,
    SnapshotEntry,
    TenantSpec,
    load_fleet,
    parse_fleet,
    save_fleet,
)

SAMPLE = """\
tier: free
shards: 2
tenants:
  - id: acme
    quota_overrides: {active_time_seconds: 1000}
    dev_branches:
      - name: feature-a
        max_cu: 1
  - id: globex
    snapshots:
      - name: nightly
        pinned: true
"""


def test_fleet_yaml_round_trip_preserves_everything(tmp_path: Path) -> None:
    fleet = parse_fleet(SAMPLE)
    path = tmp_path / "fleets" / "free.yaml"
    save_fleet(path, fleet)
    again = load_fleet(path, tier="free")
    assert again == fleet
    assert again.get("acme") is not None
    assert again.require("acme").dev_branches[0] == DevBranchEntry(name="feature-a", max_cu=1)
    assert again.require("globex").snapshots == (SnapshotEntry(name="nightly", pinned=True),)


def test_saved_fleet_omits_defaults_and_sorts_tenants(tmp_path: Path) -> None:
    fleet = (
        FleetSpec(tier="pro").with_tenant(TenantSpec(id="zeta")).with_tenant(TenantSpec(id="alpha"))
    )
    path = tmp_path / "pro.yaml"
    save_fleet(path, fleet)
    text = path.read_text()
    assert text.index("alpha") < text.index("zeta")
    assert "quota_overrides" not in text and "protected" not in text


def test_save_is_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "free.yaml"
    for i in range(5):
        save_fleet(path, FleetSpec(tier="free", tenants=(TenantSpec(id=f"t-{i}0"),)))
    assert [p.name for p in tmp_path.iterdir()] == ["free.yaml"]
    assert load_fleet(path).tenants[0].id == "t-40"


def test_missing_fleet_file_is_an_empty_fleet_of_the_tier(tmp_path: Path) -> None:
    fleet = load_fleet(tmp_path / "nope.yaml", tier="pro", shards=3)
    assert fleet == FleetSpec(tier="pro", shards=3)


def test_load_rejects_a_fleet_of_another_tier(tmp_path: Path) -> None:
    path = tmp_path / "pro.yaml"
    save_fleet(path, FleetSpec(tier="free"))
    with pytest.raises(ValueError, match="declares tier 'free'"):
        load_fleet(path, tier="pro")


@pytest.mark.parametrize("bad", ["A", "-x", "x-", "a", "a_b", "x" * 49])
def test_tenant_id_shape_is_enforced(bad: str) -> None:
    with pytest.raises(ValidationError):
        TenantSpec(id=bad)


def test_duplicate_tenants_are_rejected() -> None:
    with pytest.raises(ValidationError, match="twice"):
        FleetSpec(tier="free", tenants=(TenantSpec(id="ab"), TenantSpec(id="ab")))


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_fleet("tier: free\ntenants:\n  - id: acme\n    colour: red\n")


def test_dev_branch_edits_replace_by_name() -> None:
    t = TenantSpec(id="acme").with_dev_branch(DevBranchEntry(name="f1"))
    t = t.with_dev_branch(DevBranchEntry(name="f1", max_cu=2)).with_dev_branch(
        DevBranchEntry(name="f2")
    )
    assert [b.name for b in t.dev_branches] == ["f1", "f2"]
    assert t.require_dev_branch("f1").max_cu == 2
    assert [b.name for b in t.without_dev_branch("f1").dev_branches] == ["f2"]
