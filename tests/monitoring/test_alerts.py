"""Thresholds and evaluate(): pure, table-driven."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from neon_tenants.monitoring import (
    MetricUsage,
    TenantUsage,
    Thresholds,
    evaluate,
    worst_level,
)


def usage(tenant: str, **metrics: tuple[int, int]) -> TenantUsage:
    return TenantUsage(
        tenant=tenant,
        project_id=f"p-{tenant}",
        project_name=f"nt-{tenant}",
        org="free",
        metrics=tuple(MetricUsage(name=n, used=u, limit=lim) for n, (u, lim) in metrics.items()),
    )


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (0, 100, None),
        (79, 100, None),
        (80, 100, "warning"),
        (94, 100, "warning"),
        (95, 100, "critical"),
        (100, 100, "critical"),
        (250, 100, "critical"),
        (10**12, 0, None),  # 0 = unlimited: never alerts
        (799_999, 1_000_000, None),
        (800_000, 1_000_000, "warning"),
    ],
)
def test_default_thresholds_levels(used: int, limit: int, expected: str | None) -> None:
    found = evaluate([usage("a", written_data_bytes=(used, limit))])
    assert [a.level for a in found] == ([expected] if expected else [])


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


def test_evaluate_reports_fields_and_sorts_worst_first() -> None:
    found = evaluate(
        [
            usage("low", active_time_seconds=(10, 100)),
            usage("warm", active_time_seconds=(85, 100), data_transfer_bytes=(1, 0)),
            usage("hot", written_data_bytes=(97, 100), logical_size_bytes=(90, 100)),
            usage("over", compute_time_seconds=(300, 100)),
        ]
    )
    assert [(a.tenant, a.metric, a.level) for a in found] == [
        ("over", "compute_time_seconds", "critical"),
        ("hot", "written_data_bytes", "critical"),
        ("hot", "logical_size_bytes", "warning"),
        ("warm", "active_time_seconds", "warning"),
    ]
    over = found[0]
    assert (over.project_id, over.org, over.used, over.limit, over.percent) == (
        "p-over",
        "free",
        300,
        100,
        300.0,
    )


def test_worst_level_uses_highest_ratio() -> None:
    u = usage("t", active_time_seconds=(50, 100), written_data_bytes=(96, 100))
    assert worst_level(u) == "critical"
    assert worst_level(usage("u", active_time_seconds=(5, 0))) is None
