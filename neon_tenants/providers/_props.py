"""The inputs of one tenant's resources, as pure functions of its args (no Pulumi calls).

`TenantDatabase` calls them with Outputs for the cross-resource ids; the no-change preview
(`automation/_nochange.py`, issue #16) calls them with the ids stored in the state, so both
paths declare exactly the same inputs. `children` lists every resource the component
registers (type token and logical name), from which scoped runs build their URNs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neon_tenants.catalog import QUOTA_KEYS
from neon_tenants.naming import (
    COMPONENT_TYPE,
    DEV_BRANCH_TYPE,
    PROJECT_TYPE,
    SNAPSHOT_TYPE,
    child_name,
    component_urn,
    urn,
)
from neon_tenants.providers.specs import TenantDatabaseArgs

if TYPE_CHECKING:
    from neon_tenants.tenant import DevBranchSpec, SnapshotSpec

BRANCH_TYPE = DEV_BRANCH_TYPE
COMMAND_TYPE = "command:local:Command"
ARCHIVE_TYPE = COMMAND_TYPE

__all__ = ["COMPONENT_TYPE", "PROJECT_TYPE", "SNAPSHOT_TYPE"]


def project_name(tenant: str) -> str:
    return child_name(tenant, "project")


def branch_name(tenant: str, branch: str) -> str:
    return child_name(tenant, "branch", branch)


def snapshot_name(tenant: str, snapshot: str) -> str:
    return child_name(tenant, "snapshot", snapshot)


def archive_name(tenant: str) -> str:
    return child_name(tenant, "archive")


def migration_name(tenant: str) -> str:
    from neon_tenants.migrate import MIGRATE_SUFFIX

    return f"{tenant}{MIGRATE_SUFFIX}"


def project_props(args: TenantDatabaseArgs) -> dict[str, Any]:
    tier, quota = args.tier, args.quota
    return {
        "name": args.project_name, "tenant_id": args.tenant_id, "tier": tier.name,
        "org": tier.org, "region_id": tier.region_id, "pg_version": tier.pg_version,
        "history_retention_seconds": tier.history_retention_seconds,
        "database_name": args.database_name, "role_name": args.role_name,
        "protected": args.protected, "neon_auth": args.neon_auth,
        "data_api": args.data_api, "min_cu": args.min_cu, "max_cu": args.max_cu,
        "suspend_timeout_seconds": args.suspend_timeout_seconds,
        **{k: getattr(quota, k) for k in QUOTA_KEYS},
        "adopt_project_id": args.adopt_project_id, "first_attempt": args.first_attempt,
        "limits": args.limits.model_dump(),
    }


def branch_props(
    args: TenantDatabaseArgs, b: DevBranchSpec, project_id: Any, parent_branch_id: Any
) -> dict[str, Any]:
    return {
        "project_id": project_id, "org": args.tier.org, "name": b.name,
        "parent_branch_id": parent_branch_id, "parent": b.parent,
        "parent_timestamp": b.parent_timestamp.isoformat() if b.parent_timestamp else None,
        "parent_lsn": b.parent_lsn,
        "min_cu": b.min_cu if b.min_cu is not None else args.min_cu,
        "max_cu": b.max_cu if b.max_cu is not None else args.max_cu,
        "suspend_timeout_seconds": (b.suspend_timeout_seconds
                                    if b.suspend_timeout_seconds is not None
                                    else args.suspend_timeout_seconds),
        "expires_at": b.expires_at.isoformat() if b.expires_at else None,
        "reset_trigger": b.reset_trigger, "database_name": args.database_name,
        "role_name": args.role_name, "neon_auth": b.neon_auth, "data_api": b.data_api,
        "limits": args.limits.model_dump(),
    }


def snapshot_props(
    args: TenantDatabaseArgs, s: SnapshotSpec, project_id: Any, branch_id: Any
) -> dict[str, Any]:
    return {
        "project_id": project_id, "org": args.tier.org,
        "branch_id": branch_id, "name": s.name,
        "timestamp": s.timestamp.isoformat() if s.timestamp else None,
        "pinned": s.pinned, "restore_trigger": s.restore_trigger,
        "policy": args.tier.snapshot_policy,
        "pinned_names": [x.name for x in args.snapshots if x.pinned],
        "limits": args.limits.model_dump(),
    }


def children(args: TenantDatabaseArgs) -> list[tuple[str, str]]:
    """(type token, logical name) of every child the component registers, in order."""
    t = args.tenant_id
    out = [(PROJECT_TYPE, project_name(t))]
    out += [(BRANCH_TYPE, branch_name(t, b.name)) for b in args.dev_branches]
    out += [(SNAPSHOT_TYPE, snapshot_name(t, s.name)) for s in args.snapshots]
    if args.migration is not None:
        out.append((COMMAND_TYPE, migration_name(t)))
    if args.archive is not None:
        out.append((ARCHIVE_TYPE, archive_name(t)))
    return out


def urns(stack: str, project: str, args: TenantDatabaseArgs) -> list[str]:
    """The URNs of the tenant's component and children (the parent chain is the component:
    the tenant is read from that structure, never from a name prefix)."""
    out = [component_urn(stack, project, args.tenant_id)]
    out += [urn(stack, project, [COMPONENT_TYPE, typ], name) for typ, name in children(args)]
    return out
