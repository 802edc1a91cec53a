"""Pulumi dynamic providers for tenant databases, and the TenantDatabase component.

Type tokens: pulumi 3.272's `dynamic.Resource` takes `module=`/`name=` class keywords but
always prefixes the dynamic provider's package, so the tokens are
`pulumi-python:dynamic/neon:NeonTenantProject`, `...:DevBranch`, `...:Snapshot`
(not `neon:index:*`); the component is `neon-tenants:index:TenantDatabase`.
"""

from __future__ import annotations

from neon_tenants.naming import COMPONENT_TYPE
from neon_tenants.providers.component import TenantDatabase
from neon_tenants.providers.dev_branch import DevBranch, DevBranchProvider
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
    "Snapshot",
    "SnapshotProvider",
    "SnapshotSpec",
    "TenantDatabase",
    "TenantDatabaseArgs",
    "TenantProjectProvider",
    "project_name",
]
