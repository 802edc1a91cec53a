"""Monitoring: usage vs quota, alerts, billing export, inactive-tenant cleanup."""

from __future__ import annotations

from neon_tenants.monitoring.alerts import Alert, Level, Thresholds, evaluate, worst_level
from neon_tenants.monitoring.billing import (
    COLUMNS,
    DEFAULT_METRICS,
    V2_METRICS,
    BillingRow,
    export,
    iter_billing_rows,
    write_csv,
    write_jsonl,
)
from neon_tenants.monitoring.cleanup import (
    Candidate,
    CleanupReport,
    CleanupResult,
    archive_and_delete,
    cleanup_inactive,
    find_inactive,
)
from neon_tenants.monitoring.usage import (
    METRICS,
    MetricUsage,
    TenantUsage,
    collect_usage,
    tenant_of,
    usage_from_project,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_METRICS",
    "METRICS",
    "V2_METRICS",
    "Alert",
    "BillingRow",
    "Candidate",
    "CleanupReport",
    "CleanupResult",
    "Level",
    "MetricUsage",
    "TenantUsage",
    "Thresholds",
    "archive_and_delete",
    "cleanup_inactive",
    "collect_usage",
    "evaluate",
    "export",
    "find_inactive",
    "iter_billing_rows",
    "tenant_of",
    "usage_from_project",
    "worst_level",
    "write_csv",
    "write_jsonl",
]
