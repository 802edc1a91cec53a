"""usage_from_project: counters vs settings.quota, per metric (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from neon_tenants.client.models.projects import Project
from neon_tenants.monitoring import METRICS, MetricUsage, tenant_of, usage_from_project
from neon_tenants.monitoring.usage import quota_of


def project(**extra: Any) -> Project:
    body: dict[str, Any] = {"id": "p-1", "name": "nt-acme", "org_id": "org-1"}
    body.update(extra)
    return Project.model_validate(body)


def test_report_math_per_metric() -> None:
    p = project(
        active_time_seconds=288_000,
        compute_time_seconds=10,
        written_data_bytes=500,
        data_transfer_bytes=4 * 1024**3,
        synthetic_storage_size=700,
        settings={"quota": {"active_time_seconds": 360_000, "written_data_bytes": 1000,
                            "data_transfer_bytes": 5 * 1024**3, "logical_size_bytes": 1000}},
    )  # fmt: skip
    u = usage_from_project(p, "free", logical_size_bytes=600)
    assert u.tenant == "acme" and u.org == "free" and u.org_id == "org-1"
    assert [m.name for m in u.metrics] == list(METRICS)
    assert u.metric("active_time_seconds").ratio == pytest.approx(0.8)
    assert u.metric("active_time_seconds").percent == 80.0
    assert u.metric("compute_time_seconds").limit == 0
    assert u.metric("compute_time_seconds").ratio is None
    assert u.metric("written_data_bytes").ratio == pytest.approx(0.5)
    assert u.metric("data_transfer_bytes").ratio == pytest.approx(0.8)
    assert u.metric("logical_size_bytes").used == 600  # largest branch, not synthetic
    assert u.synthetic_storage_size == 700
    assert u.worst_ratio == pytest.approx(0.8)


def test_logical_size_falls_back_to_synthetic_storage() -> None:
    p = project(synthetic_storage_size=123, settings={"quota": {"logical_size_bytes": 246}})
    assert usage_from_project(p, "paid").metric("logical_size_bytes").ratio == 0.5


@pytest.mark.parametrize(
    "settings",
    [None, {}, {"quota": None}, {"quota": {}}, {"quota": {"active_time_seconds": 0}}],
)
def test_missing_or_zero_quota_is_unlimited(settings: dict[str, Any] | None) -> None:
    assert set(quota_of(settings).values()) == {0}
    u = usage_from_project(project(settings=settings, active_time_seconds=5), "free")
    assert all(m.ratio is None for m in u.metrics)
    assert u.worst_ratio is None


def test_missing_counters_count_as_zero() -> None:
    u = usage_from_project(project(settings={"quota": {"written_data_bytes": 10}}), "free")
    assert u.metric("written_data_bytes") == MetricUsage(name="written_data_bytes", used=0,
                                                           limit=10)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "platform", "tenant"),
    [("nt-acme", "nt", "acme"), ("other-acme", "nt", "other-acme"), ("x-a-b", "x", "a-b")],
)
def test_tenant_of(name: str, platform: str, tenant: str) -> None:
    assert tenant_of(name, platform) == tenant


def test_json_dump_has_ratio_and_percent() -> None:
    p = project(written_data_bytes=1, settings={"quota": {"written_data_bytes": 4}})
    dumped = usage_from_project(p, "free").model_dump(mode="json")
    wd = next(m for m in dumped["metrics"] if m["name"] == "written_data_bytes")
    assert wd == {"name": "written_data_bytes", "used": 1, "limit": 4, "ratio": 0.25,
                  "percent": 25.0}  # fmt: skip


def test_tier_is_recognised_from_the_applied_quota() -> None:
    from neon_tenants.catalog import builtin_catalog

    catalog = builtin_catalog()
    free = catalog.tiers["free"].quota.model_dump()
    assert usage_from_project(project(settings={"quota": free}), "free", catalog=catalog).tier == (
        "free"
    )
    # same quota in another org, or one overridden value: not that tier
    assert (
        usage_from_project(project(settings={"quota": free}), "paid", catalog=catalog).tier is None
    )
    bumped = {**free, "written_data_bytes": 1}
    assert (
        usage_from_project(project(settings={"quota": bumped}), "free", catalog=catalog).tier
        is None
    )
    assert usage_from_project(project(settings={"quota": free}), "free").tier is None
