"""Plain-dict inputs for the providers, as the engine hands them to check and diff."""

from __future__ import annotations

from typing import Any

from neon_tenants.catalog import Limits, builtin_catalog


def limits(tier: str = "free") -> dict[str, Any]:
    cat = builtin_catalog()
    t = cat.tier(tier)
    return Limits.of(t, cat.orgs[t.org]).model_dump()


def project(**kw: Any) -> dict[str, Any]:
    tier = kw.pop("tier", "free")
    base = {
        "name": "nt-acme", "tenant_id": "acme", "tier": tier,
        "org": "free" if tier == "free" else "paid", "region_id": "aws-us-east-2",
        "pg_version": 17, "history_retention_seconds": 86400, "database_name": "neondb",
        "role_name": "neondb_owner", "protected": False, "neon_auth": False, "data_api": False,
        "min_cu": 0.25, "max_cu": 2, "suspend_timeout_seconds": 300, "adopt_project_id": None,
        **QUOTAS[tier], "limits": limits(tier),
    }
    base.update(kw)
    return base


QUOTAS = {
    "free": {"active_time_seconds": 360000, "compute_time_seconds": 0, "written_data_bytes": 0,
             "data_transfer_bytes": 5368709120, "logical_size_bytes": 536870912},
    "pro": {"active_time_seconds": 2700000, "compute_time_seconds": 0, "written_data_bytes": 0,
            "data_transfer_bytes": 53687091200, "logical_size_bytes": 10737418240},
}


def project_state(**kw: Any) -> dict[str, Any]:
    outs = {"project_id": "p-1", "org_id": "org-free", "default_branch_id": "br-1",
            "endpoint_id": "ep-1", "host": "127.1.0.1", "connection_uri": "postgresql://x",
            "pooled_connection_uri": "postgresql://y", "data_api_url": None,
            "__provider": "blob"}
    return {**project(**kw), **outs}


def branch(**kw: Any) -> dict[str, Any]:
    tier = kw.pop("tier", "free")
    base = {
        "project_id": "p-1", "org": "free", "name": "dev", "parent_branch_id": "br-1",
        "min_cu": 0.25, "max_cu": 1, "suspend_timeout_seconds": 300, "expires_at": None,
        "reset_trigger": None, "database_name": "neondb", "role_name": "neondb_owner",
        "neon_auth": False, "data_api": False, "limits": limits(tier),
    }
    base.update(kw)
    return base


def snapshot(**kw: Any) -> dict[str, Any]:
    tier = kw.pop("tier", "free")
    base = {
        "project_id": "p-1", "org": "free", "branch_id": "br-1", "name": "v1",
        "timestamp": None, "pinned": False, "restore_trigger": None, "finalize_restore": True,
        "policy": "replace", "pinned_names": [], "limits": limits(tier),
    }
    base.update(kw)
    return base
