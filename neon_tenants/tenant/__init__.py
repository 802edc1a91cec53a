"""The one tenant model and its rules (no Pulumi import): see `model.py` and `rules.py`."""

from __future__ import annotations

from neon_tenants.tenant.model import (
    COMPUTE_KEYS,
    DEFAULT_BRANCH,
    DevBranchSpec,
    SnapshotSpec,
    TenantSpec,
)
from neon_tenants.tenant.rules import (
    TenantInvalid,
    failures,
    point_in_time,
    require_valid,
    retention_window,
)

__all__ = [
    "COMPUTE_KEYS",
    "DEFAULT_BRANCH",
    "DevBranchSpec",
    "SnapshotSpec",
    "TenantInvalid",
    "TenantSpec",
    "failures",
    "point_in_time",
    "require_valid",
    "retention_window",
]
