"""Pulumi dynamic providers for tenant databases, and the TenantDatabase component."""

from __future__ import annotations

from neon_tenants.providers.component import COMPONENT_TYPE, TenantDatabase
from neon_tenants.providers.dev_branch import DevBranch, DevBranchProvider
from neon_tenants.providers.quota import Quota, QuotaProvider
from neon_tenants.providers.snapshot import Snapshot, SnapshotProvider
from neon_tenants.providers.specs import (
    DevBranchSpec,
    SnapshotSpec,
    TenantDatabaseArgs,
    project_name,
)
from neon_tenants.providers.tenant_project import NeonTenantProject, TenantProjectProvider

__all__ = [
    "COMPONENT_TYPE",
    "DevBranch",
    "DevBranchProvider",
    "DevBranchSpec",
    "NeonTenantProject",
    "Quota",
    "QuotaProvider",
    "Snapshot",
    "SnapshotProvider",
    "SnapshotSpec",
    "TenantDatabase",
    "TenantDatabaseArgs",
    "TenantProjectProvider",
    "project_name",
]
