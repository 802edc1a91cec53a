"""Spec-shaped response bodies (every required field of the spec's schemas) for scripted HTTP.

The contract tests validate each of these against the OpenAPI spec before the client parses
them, so a wrong factory fails loudly instead of hiding a parsing bug.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

TS = "2026-01-02T03:04:05Z"
_seq = itertools.count(1)


def op(
    status: str = "finished",
    action: str = "create_timeline",
    project_id: str = "proj-1",
    op_id: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": op_id or str(uuid.uuid4()),
        "project_id": project_id,
        "branch_id": "br-main-1",
        "action": action,
        "status": status,
        "failures_count": 0,
        "created_at": TS,
        "updated_at": TS,
        "total_duration_ms": 10,
    }
    if error is not None:
        body["error"] = error
    return body


def project(project_id: str = "proj-1", name: str = "nt-acme", org_id: str = "org-free-1") -> dict:
    return {
        "id": project_id,
        "platform_id": "aws",
        "region_id": "aws-us-east-2",
        "name": name,
        "provisioner": "k8s-neonvm",
        "pg_version": 17,
        "proxy_host": "us-east-2.aws.neon.tech",
        "branch_logical_size_limit": 512,
        "branch_logical_size_limit_bytes": 536870912,
        "store_passwords": True,
        "cpu_used_sec": 0,
        "creation_source": "console",
        "history_retention_seconds": 86400,
        "created_at": TS,
        "updated_at": TS,
        "owner_id": "owner-1",
        "org_id": org_id,
        "consumption_period_start": TS,
        "consumption_period_end": TS,
        "active_time_seconds": 0,
        "compute_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
        "data_storage_bytes_hour": 0,
        "settings": {"quota": {"active_time_seconds": 360000}},
    }


def project_item(project_id: str = "proj-1", name: str = "nt-acme") -> dict:
    body = project(project_id, name)
    for key in (
        "consumption_period_start", "consumption_period_end", "active_time_seconds",
        "compute_time_seconds", "written_data_bytes", "data_transfer_bytes",
        "data_storage_bytes_hour",
    ):
        body.pop(key)
    body["active_time"] = 0
    return body


def branch(branch_id: str = "br-main-1", project_id: str = "proj-1", name: str = "main",
           parent_id: str | None = None, default: bool = True) -> dict:
    body: dict[str, Any] = {
        "id": branch_id,
        "project_id": project_id,
        "name": name,
        "current_state": "ready",
        "state_changed_at": TS,
        "creation_source": "console",
        "created_at": TS,
        "updated_at": TS,
        "default": default,
        "protected": False,
        "cpu_used_sec": 0,
        "active_time_seconds": 0,
        "compute_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
    }
    if parent_id:
        body["parent_id"] = parent_id
    return body


def endpoint(endpoint_id: str = "ep-main-1", project_id: str = "proj-1",
             branch_id: str = "br-main-1") -> dict:
    return {
        "host": f"{endpoint_id}.us-east-2.aws.neon.tech",
        "id": endpoint_id,
        "project_id": project_id,
        "branch_id": branch_id,
        "region_id": "aws-us-east-2",
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 2,
        "type": "read_write",
        "current_state": "idle",
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": False,
        "passwordless_access": False,
        "creation_source": "console",
        "created_at": TS,
        "updated_at": TS,
        "settings": {},
        "proxy_host": "us-east-2.aws.neon.tech",
        "suspend_timeout_seconds": 300,
        "provisioner": "k8s-neonvm",
    }


def database(name: str = "neondb", branch_id: str = "br-main-1") -> dict:
    return {"id": next(_seq), "branch_id": branch_id, "name": name, "owner_name": "owner",
            "created_at": TS, "updated_at": TS}


def role(name: str = "owner", branch_id: str = "br-main-1", password: str | None = None) -> dict:
    body: dict[str, Any] = {"branch_id": branch_id, "name": name, "created_at": TS,
                            "updated_at": TS}
    if password is not None:
        body["password"] = password
    return body


SECRET_PASSWORD = "pw-Sup3rS3cret-xyz"
SECRET_URI = f"postgresql://owner:{SECRET_PASSWORD}@ep-main-1.example/neondb?sslmode=require"


def connection_details() -> dict:
    return {
        "connection_uri": SECRET_URI,
        "connection_parameters": {
            "database": "neondb", "password": SECRET_PASSWORD, "role": "owner",
            "host": "ep-main-1.example", "pooler_host": "ep-main-1-pooler.example",
        },
    }


def created_project(project_id: str = "proj-1", name: str = "nt-acme",
                    ops: list[dict] | None = None) -> dict:
    return {
        "project": project(project_id, name),
        "connection_uris": [connection_details()],
        "roles": [role(password=SECRET_PASSWORD)],
        "databases": [database()],
        "operations": ops if ops is not None else [op("running", project_id=project_id)],
        "branch": branch(project_id=project_id),
        "endpoints": [endpoint(project_id=project_id)],
    }


def snapshot(snapshot_id: str = "snap-1", name: str = "s1") -> dict:
    return {"id": snapshot_id, "name": name, "created_at": TS, "source_branch_id": "br-main-1",
            "manual": True}


def organization(org_id: str = "org-free-1") -> dict:
    return {"id": org_id, "name": "Free org", "handle": "free-org", "plan": "free",
            "created_at": TS, "updated_at": TS, "managed_by": "console"}


def api_key_info(key_id: int = 7) -> dict:
    return {"id": key_id, "name": "k", "created_at": TS,
            "created_by": {"id": str(uuid.UUID(int=1)), "name": "n", "image": ""},
            "last_used_from_addr": ""}
