"""Pulumi dynamic providers for tenant databases, and the TenantDatabase component.

Type tokens: pulumi 3.272's `dynamic.Resource` takes `module=`/`name=` class keywords but
always prefixes the dynamic provider's package, so the tokens are
`pulumi-python:dynamic/neon:NeonTenantProject`, `...:DevBranch`, `...:Snapshot`
(not `neon:index:*`); the component is `neon-tenants:index:TenantDatabase`.

Names are imported on first use (PEP 562): the dynamic-provider process unpickles one
provider class by reference, which imports this package first; loading the component, the
archive step and the Neon client there too cost it ~0.5 s of start-up per engine run for
nothing (issue #16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "TenantDatabase": "component",
    "DevBranch": "dev_branch",
    "DevBranchProvider": "dev_branch",
    "Snapshot": "snapshot",
    "SnapshotProvider": "snapshot",
    "DevBranchSpec": "specs",
    "SnapshotSpec": "specs",
    "TenantDatabaseArgs": "specs",
    "project_name": "specs",
    "NeonTenantProject": "tenant_project",
    "TenantProjectProvider": "tenant_project",
}


def __getattr__(name: str) -> Any:
    if name == "COMPONENT_TYPE":
        from neon_tenants.naming import COMPONENT_TYPE

        return COMPONENT_TYPE
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
