"""The emulator's own records (not the wire shapes: routes/_render.py builds those).

Everything is keyed by id in one `World`, which is what persistence writes as JSON.
Timestamps are RFC 3339 strings so the file stays readable and the records stay plain.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from neon_emulator.settings import OrgLimits


class OrgRecord(BaseModel):
    id: str
    alias: str
    name: str
    handle: str
    plan: str
    limits: OrgLimits
    created_at: str
    updated_at: str


class KeyRecord(BaseModel):
    id: int
    key: str
    name: str
    kind: Literal["personal", "org"]
    org_id: str | None = None
    project_id: str | None = None
    created_at: str
    last_used_at: str | None = None
    revoked: bool = False


class ProjectRecord(BaseModel):
    id: str
    org_id: str
    name: str
    region_id: str
    pg_version: int = 17
    provisioner: str = "k8s-neonvm"
    store_passwords: bool = True
    history_retention_seconds: int = 86_400
    default_endpoint_settings: dict[str, Any] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    integration: str | None = None
    compute_last_active_at: str | None = None


class BranchRecord(BaseModel):
    id: str
    project_id: str
    name: str
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    current_state: str = "init"
    pending_state: str | None = "ready"
    state_changed_at: str
    default: bool = False
    protected: bool = False
    created_at: str
    updated_at: str
    expires_at: str | None = None
    init_source: str = "parent-data"
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    last_reset_at: str | None = None
    annotations: dict[str, str] = Field(default_factory=dict)
    head_lsn: str | None = None
    restore_target_id: str | None = None  # snapshot restore: the branch it replaces


class EndpointRecord(BaseModel):
    id: str
    project_id: str
    branch_id: str
    type: Literal["read_write", "read_only"]
    region_id: str
    min_cu: float
    max_cu: float
    suspend_timeout_seconds: int
    current_state: str = "init"
    pending_state: str | None = "active"
    settings: dict[str, Any] = Field(default_factory=dict)
    disabled: bool = False
    passwordless_access: bool = False
    name: str | None = None
    provisioner: str = "k8s-neonvm"
    host: str
    pooler_host: str
    created_at: str
    updated_at: str
    started_at: str | None = None
    suspended_at: str | None = None
    last_active: str | None = None


class RoleRecord(BaseModel):
    project_id: str
    branch_id: str
    name: str
    password: str
    protected: bool = False
    no_login: bool = False
    created_at: str
    updated_at: str


class DatabaseRecord(BaseModel):
    id: int
    project_id: str
    branch_id: str
    name: str
    owner_name: str
    created_at: str
    updated_at: str


class OperationRecord(BaseModel):
    id: str
    project_id: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    action: str
    status: str = "running"
    error: str | None = None
    failures_count: int = 0
    created_at: str
    updated_at: str
    total_duration_ms: int = 0
    seq: int = 0


class SnapshotRecord(BaseModel):
    id: str
    project_id: str
    name: str
    lsn: str | None = None
    timestamp: str | None = None
    source_branch_id: str | None = None
    created_at: str
    expires_at: str | None = None
    manual: bool = True


class TransferRequestRecord(BaseModel):
    id: str
    project_id: str
    created_at: str
    expires_at: str
    accepted: bool = False


class NeonAuthRecord(BaseModel):
    project_id: str
    branch_id: str
    auth_provider: str
    auth_provider_project_id: str
    pub_client_key: str
    secret_server_key: str
    db_name: str
    created_at: str


class DataApiRecord(BaseModel):
    project_id: str
    branch_id: str
    database_name: str
    settings: dict[str, Any] = Field(default_factory=dict)
    created_at: str


class UserRecord(BaseModel):
    id: str
    email: str = "emulator@localhost"
    name: str = "Emulator"
    last_name: str = "User"
    login: str = "emulator"


class World(BaseModel):
    """All state of one emulator; persistence writes exactly this."""

    user: UserRecord
    orgs: dict[str, OrgRecord] = Field(default_factory=dict)
    keys: dict[int, KeyRecord] = Field(default_factory=dict)
    projects: dict[str, ProjectRecord] = Field(default_factory=dict)
    branches: dict[str, BranchRecord] = Field(default_factory=dict)
    endpoints: dict[str, EndpointRecord] = Field(default_factory=dict)
    roles: dict[str, RoleRecord] = Field(default_factory=dict)  # "branch/name"
    databases: dict[str, DatabaseRecord] = Field(default_factory=dict)  # "branch/name"
    operations: dict[str, OperationRecord] = Field(default_factory=dict)
    snapshots: dict[str, SnapshotRecord] = Field(default_factory=dict)
    transfer_requests: dict[str, TransferRequestRecord] = Field(default_factory=dict)
    neon_auth: dict[str, NeonAuthRecord] = Field(default_factory=dict)  # branch id
    data_api: dict[str, DataApiRecord] = Field(default_factory=dict)  # "branch/db"
    next_key_id: int = 1
    next_db_id: int = 1
    next_address: int = 0
    next_op_seq: int = 0
