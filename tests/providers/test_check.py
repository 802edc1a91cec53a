"""`check` fails at preview, before any API call, with a message saying what to change."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from neon_tenants.providers._base import UNKNOWN
from neon_tenants.providers.dev_branch import DevBranchProvider
from neon_tenants.providers.snapshot import SnapshotProvider
from neon_tenants.providers.tenant_project import TenantProjectProvider

from . import _inputs as inp


def failures(provider: Any, news: dict[str, Any]) -> dict[str, str]:
    result = provider.check({}, {**news, "__provider": "blob"})
    return {f.property: f.reason for f in result.failures}


def test_check_accepts_valid_project_and_normalizes() -> None:
    result = TenantProjectProvider().check({}, inp.project(max_cu=2.0, pg_version=17.0))
    assert result.failures == []
    assert result.inputs["pg_version"] == 17 and "__provider" not in result.inputs


def test_check_rejects_suspend_below_tier_minimum() -> None:
    got = failures(TenantProjectProvider(), inp.project(suspend_timeout_seconds=120))
    assert set(got) == {"suspend_timeout_seconds"}
    assert "300" in got["suspend_timeout_seconds"] and "tier free" in got[
        "suspend_timeout_seconds"]


def test_check_accepts_suspend_120_on_pro() -> None:
    assert failures(TenantProjectProvider(), inp.project(
        tier="pro", suspend_timeout_seconds=120, history_retention_seconds=604800)) == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_cu", 4), ("min_cu", 0.1), ("history_retention_seconds", 172800),
     ("role_name", "postgres"), ("role_name", "pg_admin"), ("database_name", "template1"),
     ("tenant_id", "Bad_Id"), ("org", "paid"), ("pg_version", 13)],
)
def test_check_rejects_project_input(field: str, value: Any) -> None:
    got = failures(TenantProjectProvider(), inp.project(**{field: value}))
    assert field in got


def test_check_rejects_unknown_input_name() -> None:
    assert "colour" in failures(TenantProjectProvider(), inp.project(colour="red"))


def test_check_ignores_output_placeholders_passed_as_none() -> None:
    assert failures(TenantProjectProvider(), inp.project(project_id=None, host=None)) == {}


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["sentinel", "Unknown"])
def test_check_tolerates_unknown_values_at_preview(unknown: Any) -> None:
    result = DevBranchProvider().check({}, inp.branch(project_id=unknown,
                                                      parent_branch_id=unknown))
    assert result.failures == []
    assert result.inputs["project_id"] is unknown


def test_check_still_validates_known_fields_when_others_unknown() -> None:
    got = failures(DevBranchProvider(), inp.branch(project_id=UNKNOWN, max_cu=3))
    assert set(got) == {"max_cu"}


def test_check_rejects_negative_quota_on_the_project() -> None:
    assert "logical_size_bytes" in failures(TenantProjectProvider(),
                                            inp.project(logical_size_bytes=-1))


@pytest.mark.parametrize(
    ("tier", "seconds", "ok"),
    [("free", 0, True), ("free", -1, False), ("pro", -1, True), ("free", 300, True),
     ("free", 200, False), ("pro", 60, True)],
)
def test_check_dev_branch_suspend(tier: str, seconds: int, ok: bool) -> None:
    got = failures(DevBranchProvider(), inp.branch(tier=tier, suspend_timeout_seconds=seconds))
    assert (got == {}) is ok


def test_check_dev_branch_rejects_reserved_name() -> None:
    assert "name" in failures(DevBranchProvider(), inp.branch(name="main"))


def test_check_snapshot_rejects_future_timestamp() -> None:
    got = failures(SnapshotProvider(), inp.snapshot(timestamp="2999-01-01T00:00:00Z"))
    assert "timestamp" in got and "future" in got["timestamp"]


def test_check_snapshot_rejects_bad_policy() -> None:
    assert "policy" in failures(SnapshotProvider(), inp.snapshot(policy="fifo"))
