"""Request bodies as pydantic models: the single source of truth for input validation.

Ranges copy the spec (CONTRACT.md); a violation renders as a 400 GeneralError.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Suspend = Field(default=None, ge=-1, le=604_800)
CU = Field(default=None, ge=0.25)


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class QuotaIn(_In):
    active_time_seconds: int | None = Field(default=None, ge=0)
    compute_time_seconds: int | None = Field(default=None, ge=0)
    written_data_bytes: int | None = Field(default=None, ge=0)
    data_transfer_bytes: int | None = Field(default=None, ge=0)
    logical_size_bytes: int | None = Field(default=None, ge=0)


class ProjectSettingsIn(_In):
    model_config = ConfigDict(extra="allow")

    quota: QuotaIn | None = None
    enable_logical_replication: bool | None = None
    block_public_connections: bool | None = None
    block_vpc_connections: bool | None = None
    audit_log_level: Literal["base", "extended", "full"] | None = None
    hipaa: bool | None = None


class DefaultEndpointSettingsIn(_In):
    autoscaling_limit_min_cu: float | None = CU
    autoscaling_limit_max_cu: float | None = CU
    suspend_timeout_seconds: int | None = Suspend
    pg_settings: dict[str, str] | None = None
    pgbouncer_settings: dict[str, str] | None = None


class BranchSeedIn(_In):
    name: str | None = Field(default=None, max_length=256)
    role_name: str | None = Field(default=None, min_length=1, max_length=63)
    database_name: str | None = Field(default=None, min_length=1, max_length=63)


class ProjectCreateIn(_In):
    name: str | None = Field(default=None, max_length=256)
    region_id: str | None = None
    pg_version: int | None = Field(default=None, ge=14, le=18)
    org_id: str | None = None
    store_passwords: bool | None = None
    history_retention_seconds: int | None = Field(default=None, ge=0, le=2_592_000)
    provisioner: str | None = None
    branch: BranchSeedIn | None = None
    default_endpoint_settings: DefaultEndpointSettingsIn | None = None
    settings: ProjectSettingsIn | None = None
    autoscaling_limit_min_cu: float | None = CU
    autoscaling_limit_max_cu: float | None = CU


class ProjectCreateRequest(_In):
    project: ProjectCreateIn = Field(default_factory=ProjectCreateIn)


class ProjectUpdateIn(_In):
    name: str | None = Field(default=None, max_length=256)
    settings: ProjectSettingsIn | None = None
    default_endpoint_settings: DefaultEndpointSettingsIn | None = None
    history_retention_seconds: int | None = Field(default=None, ge=0, le=2_592_000)


class ProjectUpdateRequest(_In):
    project: ProjectUpdateIn


class EndpointIn(_In):
    type: Literal["read_write", "read_only"]
    autoscaling_limit_min_cu: float | None = CU
    autoscaling_limit_max_cu: float | None = CU
    suspend_timeout_seconds: int | None = Suspend
    provisioner: str | None = None
    settings: dict[str, Any] | None = None


class BranchCreateIn(_In):
    parent_id: str | None = None
    name: str | None = Field(default=None, max_length=256)
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    protected: bool | None = None
    archived: bool | None = None
    init_source: Literal["parent-data", "schema-only"] | None = None
    expires_at: str | None = None


class BranchCreateRequest(_In):
    branch: BranchCreateIn | None = None
    endpoints: list[EndpointIn] | None = None
    annotation_value: dict[str, str] | None = None


class BranchUpdateIn(_In):
    name: str | None = Field(default=None, max_length=256)
    protected: bool | None = None
    expires_at: str | None = None


class BranchUpdateRequest(_In):
    branch: BranchUpdateIn


class BranchRestoreRequest(_In):
    source_branch_id: str
    source_lsn: str | None = None
    source_timestamp: str | None = None
    preserve_under_name: str | None = Field(default=None, max_length=256)


class _EndpointFieldsIn(_In):
    """The fields an endpoint's create and update bodies share, with the same ranges."""

    autoscaling_limit_min_cu: float | None = CU
    autoscaling_limit_max_cu: float | None = CU
    provisioner: str | None = None
    settings: dict[str, Any] | None = None
    suspend_timeout_seconds: int | None = Suspend
    disabled: bool | None = None
    passwordless_access: bool | None = None
    name: str | None = Field(default=None, max_length=64)


class EndpointCreateIn(_EndpointFieldsIn):
    branch_id: str
    type: Literal["read_write", "read_only"]
    region_id: str | None = None


class EndpointCreateRequest(_In):
    endpoint: EndpointCreateIn


class EndpointUpdateIn(_EndpointFieldsIn):
    branch_id: str | None = None


class EndpointUpdateRequest(_In):
    endpoint: EndpointUpdateIn


class RoleCreateIn(_In):
    name: str = Field(min_length=1, max_length=63)
    no_login: bool | None = None


class RoleCreateRequest(_In):
    role: RoleCreateIn


class DatabaseCreateIn(_In):
    name: str = Field(min_length=1, max_length=63)
    owner_name: str = Field(min_length=1, max_length=63)


class DatabaseCreateRequest(_In):
    database: DatabaseCreateIn


class DatabaseUpdateIn(_In):
    name: str | None = Field(default=None, min_length=1, max_length=63)
    owner_name: str | None = Field(default=None, min_length=1, max_length=63)


class DatabaseUpdateRequest(_In):
    database: DatabaseUpdateIn


class SnapshotRenameIn(_In):
    name: str | None = None


class SnapshotUpdateRequest(_In):
    snapshot: SnapshotRenameIn


class SnapshotRestoreRequest(_In):
    name: str | None = None
    target_branch_id: str | None = None
    finalize_restore: bool | None = None


class FinalizeRestoreRequest(_In):
    name: str | None = None


class TransferRequest(_In):
    destination_org_id: str = Field(pattern=r"^[a-z0-9-]{1,60}$")
    project_ids: list[str] = Field(min_length=1, max_length=400)


class TransferRequestCreate(_In):
    ttl_seconds: int | None = Field(default=None, ge=1)


class TransferRequestAccept(_In):
    org_id: str | None = None


class ApiKeyCreate(_In):
    key_name: str = Field(min_length=1, max_length=64)


class OrgApiKeyCreate(_In):
    key_name: str = Field(min_length=1, max_length=64)
    project_id: str | None = None


class NeonAuthCreate(_In):
    auth_provider: Literal["mock", "stack", "better_auth"]
    database_name: str | None = None


class NeonAuthDelete(_In):
    delete_data: bool | None = None


class DataApiCreate(_In):
    auth_provider: Literal["neon_auth", "external"] | None = None
    jwks_url: str | None = None
    provider_name: str | None = None
    jwt_audience: str | None = None
    add_default_grants: bool | None = None
    skip_auth_schema: bool | None = None
    settings: dict[str, Any] | None = None


class DataApiUpdate(_In):
    settings: dict[str, Any] | None = None
