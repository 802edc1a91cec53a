"""Records -> the spec's wire shapes (Project, Branch, Endpoint, ...), in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from neon_emulator.compute.backend import BranchUsage
from neon_emulator.engine.operations import Step
from neon_emulator.store.records import (
    BranchRecord,
    DatabaseRecord,
    EndpointRecord,
    OperationRecord,
    OrgRecord,
    ProjectRecord,
    RoleRecord,
    SnapshotRecord,
)

Json = dict[str, Any]
LOGICAL_LIMIT_BYTES = 3 * 1024 * 1024 * 1024
RECOVERY = timedelta(days=7)  # soft-deleted projects (CONTRACT.md section 1)


# What Neon returns for a project whose request set nothing (issue #15: clients such as the
# kislerdm Terraform provider read settings.allowed_ips.ips without a nil check). Stored
# values win; these only fill what the request left out.
PROJECT_SETTINGS_DEFAULTS: Json = {
    "allowed_ips": {"ips": [], "protected_branches_only": False},
    "enable_logical_replication": False,
    "maintenance_window": {"weekdays": [5], "start_time": "07:00", "end_time": "08:00"},
    "block_public_connections": False,
    "block_vpc_connections": False,
    "hipaa": False,
    "preload_libraries": {"use_defaults": True, "enabled_libraries": []},
}
DEFAULT_ENDPOINT_SETTINGS: Json = {
    "autoscaling_limit_min_cu": 0.25,
    "autoscaling_limit_max_cu": 0.25,
    "suspend_timeout_seconds": 0,
}


def with_defaults(defaults: Json, stored: Json) -> Json:
    """A deep copy of `defaults` overlaid with `stored` (nested objects merged key by key)."""
    out: Json = {}
    for key, value in defaults.items():
        out[key] = with_defaults(value, {}) if isinstance(value, dict) else (
            list(value) if isinstance(value, list) else value)
    for key, value in stored.items():
        base = out.get(key)
        out[key] = with_defaults(base, value) if isinstance(base, dict) and isinstance(
            value, dict) else value
    return out


def _period() -> tuple[str, str]:
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")


def total_usage(usage: dict[str, BranchUsage]) -> BranchUsage:
    out = BranchUsage()
    for u in usage.values():
        out.active_time_seconds += u.active_time_seconds
        out.compute_time_seconds += u.compute_time_seconds
        out.written_data_bytes += u.written_data_bytes
        out.data_transfer_bytes += u.data_transfer_bytes
        out.logical_size_bytes += u.logical_size_bytes
    return out


def _project_common(p: ProjectRecord) -> Json:
    quota = p.settings.get("quota", {})
    limit_bytes = int(quota.get("logical_size_bytes") or LOGICAL_LIMIT_BYTES)
    body: Json = {
        "id": p.id,
        "platform_id": "aws",
        "region_id": p.region_id,
        "name": p.name,
        "provisioner": p.provisioner,
        "default_endpoint_settings": with_defaults(DEFAULT_ENDPOINT_SETTINGS,
                                                   p.default_endpoint_settings),
        "settings": with_defaults(PROJECT_SETTINGS_DEFAULTS, p.settings),
        "pg_version": p.pg_version,
        "proxy_host": f"{p.region_id}.emulator.local",
        "branch_logical_size_limit": limit_bytes // (1024 * 1024),
        "branch_logical_size_limit_bytes": limit_bytes,
        "store_passwords": p.store_passwords,
        "creation_source": "console",
        "history_retention_seconds": p.history_retention_seconds,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "owner_id": "emulator-user",
        "org_id": p.org_id,
        "cpu_used_sec": 0,
    }
    if p.compute_last_active_at:
        body["compute_last_active_at"] = p.compute_last_active_at
    return body


def project(p: ProjectRecord, usage: dict[str, BranchUsage], org: OrgRecord | None,
            branches_limit: int) -> Json:
    u = total_usage(usage)
    start, end = _period()
    body = _project_common(p)
    body.update({
        "active_time_seconds": u.active_time_seconds,
        "compute_time_seconds": u.compute_time_seconds,
        "written_data_bytes": u.written_data_bytes,
        "data_transfer_bytes": u.data_transfer_bytes,
        "data_storage_bytes_hour": 0,
        "synthetic_storage_size": u.logical_size_bytes,
        "consumption_period_start": start,
        "consumption_period_end": end,
        "owner": {
            "email": "emulator@localhost",
            "name": org.name if org else "",
            "branches_limit": branches_limit,
            "subscription_type": _subscription(org.plan if org else ""),
        },
    })
    return body


def _subscription(plan: str) -> str:
    allowed = {"free_v2", "free_v3", "launch", "launch_v3", "scale", "scale_v3", "business"}
    return plan if plan in allowed else "UNKNOWN"


def project_list_item(p: ProjectRecord, usage: dict[str, BranchUsage],
                      org: OrgRecord | None) -> Json:
    body = _project_common(p)
    total = total_usage(usage)
    body["active_time"] = total.active_time_seconds
    body["synthetic_storage_size"] = total.logical_size_bytes  # optional in ProjectListItem
    if org is not None:
        body["org_name"] = org.name
    if p.deleted_at:
        body["deleted_at"] = p.deleted_at
        deleted = datetime.fromisoformat(p.deleted_at.replace("Z", "+00:00"))
        body["recoverable_until"] = (deleted + RECOVERY).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def branch(b: BranchRecord, usage: BranchUsage | None) -> Json:
    u = usage or BranchUsage()
    body: Json = {
        "id": b.id,
        "project_id": b.project_id,
        "name": b.name,
        "current_state": b.current_state,
        "state_changed_at": b.state_changed_at,
        "creation_source": "console",
        "primary": b.default,
        "default": b.default,
        "protected": b.protected,
        "cpu_used_sec": 0,
        "active_time_seconds": u.active_time_seconds,
        "compute_time_seconds": u.compute_time_seconds,
        "written_data_bytes": u.written_data_bytes,
        "data_transfer_bytes": u.data_transfer_bytes,
        "logical_size": u.logical_size_bytes,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "init_source": b.init_source,
    }
    optional = {
        "parent_id": b.parent_id, "parent_lsn": b.parent_lsn,
        "parent_timestamp": b.parent_timestamp, "pending_state": b.pending_state,
        "expires_at": b.expires_at, "last_reset_at": b.last_reset_at,
        "restore_status": b.restore_status, "restored_from": b.restored_from,
        "restored_as": b.restored_as,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def endpoint(e: EndpointRecord, state: str | None = None) -> Json:
    body: Json = {
        "host": e.host,
        "id": e.id,
        "project_id": e.project_id,
        "branch_id": e.branch_id,
        "autoscaling_limit_min_cu": e.min_cu,
        "autoscaling_limit_max_cu": e.max_cu,
        "region_id": e.region_id,
        "type": e.type,
        "current_state": state or e.current_state,
        "settings": with_defaults({"pg_settings": {}}, e.settings),
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": e.disabled,
        "passwordless_access": e.passwordless_access,
        "creation_source": "console",
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "proxy_host": e.host,
        "suspend_timeout_seconds": e.suspend_timeout_seconds,
        "provisioner": e.provisioner,
    }
    optional = {
        "name": e.name, "pending_state": e.pending_state, "started_at": e.started_at,
        "suspended_at": e.suspended_at, "last_active": e.last_active,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def role(r: RoleRecord, *, with_password: bool = False) -> Json:
    body: Json = {
        "branch_id": r.branch_id,
        "name": r.name,
        "protected": r.protected,
        "authentication_method": "no_login" if r.no_login else "password",
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }
    if with_password and not r.no_login:
        body["password"] = r.password
    return body


def database(d: DatabaseRecord) -> Json:
    return {
        "id": d.id, "branch_id": d.branch_id, "name": d.name, "owner_name": d.owner_name,
        "created_at": d.created_at, "updated_at": d.updated_at,
    }


def operation(o: OperationRecord) -> Json:
    body: Json = {
        "id": o.id, "project_id": o.project_id, "action": o.action, "status": o.status,
        "failures_count": o.failures_count, "created_at": o.created_at,
        "updated_at": o.updated_at, "total_duration_ms": o.total_duration_ms,
    }
    for k in ("branch_id", "endpoint_id", "error"):
        v = getattr(o, k)
        if v is not None:
            body[k] = v
    return body


def snapshot(s: SnapshotRecord) -> Json:
    body: Json = {"id": s.id, "name": s.name, "created_at": s.created_at, "manual": s.manual}
    for k in ("lsn", "timestamp", "source_branch_id", "expires_at"):
        v = getattr(s, k)
        if v is not None:
            body[k] = v
    return body


def organization(o: OrgRecord) -> Json:
    return {
        "id": o.id, "name": o.name, "handle": o.handle, "plan": o.plan,
        "created_at": o.created_at, "updated_at": o.updated_at, "managed_by": "console",
    }


def connection_uri(role_name: str, password: str, host: str, db: str, port: int) -> str:
    hostport = host if port == 5432 else f"{host}:{port}"
    return f"postgresql://{role_name}:{password}@{hostport}/{db}?sslmode=require&channel_binding=require"


def connection_details(r: RoleRecord, d: DatabaseRecord, e: EndpointRecord, port: int) -> Json:
    return {
        "connection_uri": connection_uri(r.name, r.password, e.host, d.name, port),
        "connection_parameters": {
            "database": d.name, "password": r.password, "role": r.name,
            "host": e.host, "pooler_host": e.pooler_host,
        },
    }


def operations(steps: list[Step]) -> list[Json]:
    """A mutation's `operations[]`, rendered under the store lock before workers move them."""
    return [operation(s.op) for s in steps]
