"""Fleet files, sharding and the one Pulumi program."""

from __future__ import annotations

from neon_tenants.fleet.sharding import (
    StackRef,
    all_stacks,
    parse_stack_name,
    shard_for,
    shard_of,
    stack_name,
    tenants_of_shard,
)
from neon_tenants.fleet.spec import (
    DevBranchEntry,
    FleetSpec,
    SnapshotEntry,
    TenantSpec,
    load_fleet,
    parse_fleet,
    save_fleet,
)

__all__ = [
    "DevBranchEntry",
    "FleetSpec",
    "SnapshotEntry",
    "StackRef",
    "TenantSpec",
    "all_stacks",
    "load_fleet",
    "parse_fleet",
    "parse_stack_name",
    "save_fleet",
    "shard_for",
    "shard_of",
    "stack_name",
    "tenants_of_shard",
]
