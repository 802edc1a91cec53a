"""Thresholds, per-tier rules and events_for(): pure, table-driven."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from neon_tenants.monitoring import AlertRules, Reading, Thresholds, events_for
from neon_tenants.monitoring.readings import METRICS


def reading(tenant: str, tier: str = "free", **metrics: tuple[int, int]) -> Reading:
    return Reading(
        tenant=tenant, tier=tier, project_id=f"p-{tenant}", org="free", period="2026-11",
        taken_at="2026-11-28T08:00:00Z",
        used={n: u for n, (u, _) in metrics.items()},
        limits={n: metrics[n][1] if n in metrics else 0 for n in METRICS},
        sources={n: "list" for n in metrics},
    )


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (0, 100, []),
        (79, 100, []),
        (80, 100, ["warning"]),
        (94, 100, ["warning"]),
        (95, 100, ["warning", "critical"]),
        (250, 100, ["warning", "critical"]),
        (10**12, 0, []),  # 0 = unlimited: never alerts
        (799_999, 1_000_000, []),
        (800_000, 1_000_000, ["warning"]),
    ],
)
def test_default_thresholds_levels(used: int, limit: int, expected: list[str]) -> None:
    found = events_for([reading("a", logical_size_bytes=(used, limit))], AlertRules())
    assert [e.level for e in found if e.kind == "quota_threshold"] == expected


@pytest.mark.parametrize(
    ("warning", "critical", "ratio", "expected"),
    [
        (0.5, 0.9, 0.49, None),
        (0.5, 0.9, 0.5, "warning"),
        (0.5, 0.9, 0.9, "critical"),
        (0.7, 0.7, 0.7, "critical"),
        (0.8, 0.95, None, None),
    ],
)
def test_custom_thresholds(
    warning: float, critical: float, ratio: float | None, expected: str | None
) -> None:
    assert Thresholds(warning=warning, critical=critical).level(ratio) == expected


@pytest.mark.parametrize(("warning", "critical"), [(0.96, 0.95), (0.0, 0.9), (-1.0, 0.5)])
def test_thresholds_reject_bad_values(warning: float, critical: float) -> None:
    with pytest.raises(ValidationError):
        Thresholds(warning=warning, critical=critical)


def test_rules_per_tier_and_metric_override_the_default(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tiers:\n  free:\n    active_time_seconds: {warning: 0.5, critical: 0.6}\n"
                    "  pro:\n    '*': {warning: 0.9, critical: 0.99}\n"
                    "suspended:\n  pro: raise_quota\n")
    rules = AlertRules.load(path)
    found = events_for([
        reading("f", "free", active_time_seconds=(55, 100), data_transfer_bytes=(85, 100)),
        reading("p", "pro", active_time_seconds=(85, 100), compute_time_seconds=(100, 100)),
    ], rules)
    assert [(e.tenant, e.kind, e.metric, e.level) for e in found] == [
        ("f", "quota_threshold", "active_time_seconds", "warning"),
        ("f", "quota_threshold", "data_transfer_bytes", "warning"),
        ("p", "quota_threshold", "compute_time_seconds", "warning"),
        ("p", "quota_threshold", "compute_time_seconds", "critical"),
        ("p", "quota_suspended", "compute_time_seconds", None),
    ]
    assert found[-1].detail == {"policy": "raise_quota"}
    assert found[0].percent == 55.0 and found[0].used == 55 and found[0].limit == 100


def test_rules_file_with_an_unknown_metric_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tiers:\n  free:\n    cpu_seconds: {warning: 0.5, critical: 0.6}\n")
    with pytest.raises(ValueError, match="tiers.free: unknown metric.*cpu_seconds.*allowed"):
        AlertRules.load(path)


def test_logical_size_at_its_quota_does_not_mean_suspended() -> None:
    """Only the four counters that suspend computes raise quota_suspended (CONTRACT.md s1)."""
    found = events_for([reading("l", logical_size_bytes=(100, 100))], AlertRules())
    assert {e.kind for e in found} == {"quota_threshold"}


def test_event_ids_are_stable_per_tenant_metric_level_and_period() -> None:
    a = events_for([reading("x", active_time_seconds=(90, 100))], AlertRules())
    b = events_for([reading("x", active_time_seconds=(91, 100))], AlertRules())
    later = reading("x", active_time_seconds=(90, 100)).model_copy(update={"period": "2026-12"})
    c = events_for([later], AlertRules())
    assert [e.id for e in a] == [e.id for e in b]
    assert a[0].id != c[0].id


def test_rules_for_a_tier_the_catalog_lacks_are_refused(tmp_path: Path) -> None:
    from neon_tenants.catalog import load_catalog
    from neon_tenants.monitoring.rules import check_tiers

    path = tmp_path / "rules.yaml"
    path.write_text("tiers:\n  gold:\n    '*': {warning: 0.5, critical: 0.6}\n")
    with pytest.raises(ValueError, match=r"tiers: unknown tier\(s\) \['gold'\]; allowed: "
                                         r"\['enterprise', 'free', 'pro'\]"):
        check_tiers(AlertRules.load(path), load_catalog().tiers, str(path))
    check_tiers(AlertRules(suspended={"pro": "raise_quota"}), load_catalog().tiers)
