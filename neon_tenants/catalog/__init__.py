"""Tiers (free, pro, enterprise), org limits and the pure validation behind `check`."""

from __future__ import annotations

from neon_tenants.catalog.limits import Limits
from neon_tenants.catalog.source import stack_catalog
from neon_tenants.catalog.tiers import (
    QUOTA_KEYS,
    Catalog,
    OrgLimits,
    Prices,
    Quota,
    Tier,
    builtin_catalog,
    load_catalog,
)
from neon_tenants.catalog.validate import Failure

__all__ = [
    "QUOTA_KEYS",
    "Catalog",
    "Failure",
    "Limits",
    "OrgLimits",
    "Prices",
    "Quota",
    "Tier",
    "builtin_catalog",
    "load_catalog",
    "stack_catalog",
]
