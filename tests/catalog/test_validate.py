"""Pure limit and name checks: parametrized tables of what each tier accepts and refuses."""

from __future__ import annotations

import pytest

from neon_tenants.catalog import Limits, builtin_catalog
from neon_tenants.catalog import validate as v


def limits(tier: str) -> Limits:
    cat = builtin_catalog()
    t = cat.tier(tier)
    return Limits.of(t, cat.orgs[t.org])


@pytest.mark.parametrize(
    ("tier", "min_cu", "max_cu", "ok"),
    [
        ("free", 0.25, 2, True),
        ("free", 0.25, 2.5, False),
        ("free", 0.1, 1, False),
        ("free", 1, 0.5, False),
        ("pro", 0.25, 2, True),
        ("pro", 0.25, 4, False),
        ("enterprise", 0.25, 8, True),
        ("enterprise", 0.3, 8, False),
        ("enterprise", 0.25, 16, False),
    ],
)
def test_compute_range_table(tier: str, min_cu: float, max_cu: float, ok: bool) -> None:
    assert (v.compute_range(min_cu, max_cu, limits(tier)) == []) is ok


def test_compute_message_names_property_range_and_tier() -> None:
    [f] = v.compute_range(0.25, 4, limits("free"))
    assert f.property == "max_cu"
    assert "0.25-2.0 CU" in f.reason and "tier free" in f.reason


@pytest.mark.parametrize(
    ("tier", "seconds", "ok"),
    [
        ("free", 300, True), ("free", 299, False), ("free", 60, False), ("free", 0, True),
        ("free", -1, False), ("pro", -1, True), ("pro", 60, True), ("pro", 59, False),
        ("pro", 604800, True), ("pro", 604801, False), ("enterprise", 60, True),
    ],
)
def test_suspend_timeout_table(tier: str, seconds: int, ok: bool) -> None:
    assert (v.suspend_timeout(seconds, limits(tier)) == []) is ok


@pytest.mark.parametrize(
    ("tier", "seconds", "ok"),
    [("free", 86400, True), ("free", 86401, False), ("pro", 604800, True),
     ("pro", 604801, False), ("pro", -1, False)],
)
def test_history_retention_table(tier: str, seconds: int, ok: bool) -> None:
    assert (v.history_retention(seconds, limits(tier)) == []) is ok


@pytest.mark.parametrize(
    ("tier", "branches", "snapshots", "ok"),
    [("free", 10, 1, True), ("free", 11, 1, False), ("free", 2, 2, False),
     ("pro", 1000, 10, True), ("pro", 1001, 0, False), ("pro", 1, 11, False)],
)
def test_branch_and_snapshot_caps(tier: str, branches: int, snapshots: int, ok: bool) -> None:
    lim = limits(tier)
    assert (v.branch_count(branches, lim) + v.snapshot_count(snapshots, lim) == []) is ok


@pytest.mark.parametrize(
    "name", ["postgres", "pg_monitor", "PG_x", "neon_superuser", "cloud_admin", "zenith_admin",
             "neon_service", "public"],
)
def test_reserved_role_names_rejected(name: str) -> None:
    [f] = v.role_name(name)
    assert f.property == "role_name" and "reserved" in f.reason


@pytest.mark.parametrize("name", ["postgres", "template0", "template1"])
def test_reserved_database_names_rejected(name: str) -> None:
    [f] = v.database_name(name)
    assert "reserved" in f.reason


@pytest.mark.parametrize("name", ["app", "neondb_owner", "tenant_rw"])
def test_ordinary_role_names_accepted(name: str) -> None:
    assert v.role_name(name) == [] and v.database_name(name) == []


@pytest.mark.parametrize(
    ("tenant", "ok"),
    [("acme", True), ("a1-b2", True), ("a", False), ("-acme", False), ("Acme", False),
     ("acme-", False), ("x" * 48, True), ("x" * 49, False), ("production", False)],
)
def test_tenant_id_table(tenant: str, ok: bool) -> None:
    assert (v.tenant_id(tenant) == []) is ok


@pytest.mark.parametrize(
    ("overrides", "ok"),
    [({"logical_size_bytes": 1024}, True), ({"logical_size_bytes": 536870913}, False),
     ({"logical_size_bytes": 0}, False), ({"compute_time_seconds": 0}, True),
     ({"compute_time_seconds": 10**12}, True), ({"bogus": 1}, False)],
)
def test_quota_overrides_stay_within_free_tier(overrides: dict[str, int], ok: bool) -> None:
    assert (v.quota_values(overrides, builtin_catalog().tier("free")) == []) is ok
