"""TenantDatabaseArgs fails early in a Python program, with the same messages as `check`."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from neon_tenants.catalog import builtin_catalog
from neon_tenants.providers import DevBranchSpec, SnapshotSpec, TenantDatabaseArgs, project_name


def args(tier: str = "free", **kw: Any) -> TenantDatabaseArgs:
    return TenantDatabaseArgs(tenant_id=kw.pop("tenant_id", "acme"),
                              tier=builtin_catalog().tier(tier), **kw)


def test_project_name_has_no_tier() -> None:
    assert project_name("nt", "acme") == "nt-acme" == args("pro").project_name


def test_defaults_come_from_the_tier() -> None:
    a = args("pro", quota_overrides={"logical_size_bytes": 1024},
             compute_overrides={"max_cu": 1})
    assert (a.min_cu, a.max_cu, a.suspend_timeout_seconds) == (0.25, 1.0, 300)
    assert a.quota.logical_size_bytes == 1024 and a.quota.active_time_seconds == 2700000
    assert a.limits.snapshot_cap == 10


@pytest.mark.parametrize(
    ("tier", "kw", "needle"),
    [
        ("free", {"compute_overrides": {"max_cu": 4}}, "compute_overrides.max_cu"),
        ("free", {"compute_overrides": {"suspend_timeout_seconds": 60}},
         "compute_overrides.suspend_timeout_seconds"),
        ("free", {"quota_overrides": {"logical_size_bytes": 10**12}},
         "quota_overrides.logical_size_bytes"),
        ("free", {"snapshots": [SnapshotSpec(name="a"), SnapshotSpec(name="b")]}, "snapshots"),
        ("free", {"dev_branches": [DevBranchSpec(name=f"d{i}") for i in range(10)]},
         "dev_branches"),
        ("free", {"role_name": "cloud_admin"}, "role_name"),
        ("free", {"database_name": "postgres"}, "database_name"),
        ("free", {"tenant_id": "UPPER"}, "tenant_id"),
        ("pro", {"dev_branches": [DevBranchSpec(name="a", parent="b")]},
         "dev_branches[0].parent"),
        ("pro", {"dev_branches": [DevBranchSpec(name="a", max_cu=8)]}, "dev_branches[0].max_cu"),
        ("pro", {"snapshots": [SnapshotSpec(name="s", branch="nope")]}, "snapshots[0].branch"),
    ],
)
def test_args_reject_out_of_tier_values(tier: str, kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        args(tier, **kw)
    assert needle in str(err.value)
    assert f"tier {tier}" in str(err.value) or "reserved" in str(err.value) or needle in (
        "dev_branches[0].parent", "snapshots[0].branch", "tenant_id")


def test_args_accept_a_full_pro_tenant() -> None:
    a = args("pro", dev_branches=[DevBranchSpec(name="dev", suspend_timeout_seconds=-1),
                                  DevBranchSpec(name="feature", parent="dev", max_cu=1)],
             snapshots=[SnapshotSpec(name="v1", pinned=True), SnapshotSpec(name="v2",
                                                                           branch="dev")],
             neon_auth=True, data_api=True, protected=True)
    assert [b.name for b in a.dev_branches] == ["dev", "feature"]
