"""Project models (spec tag "Project"): create/update requests and the responses."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from ._base import RequestModel, ResponseModel
from .branches import Branch, Database, Role
from .endpoints import Endpoint
from .operations import Operation, Pagination


class ProjectQuota(RequestModel):
    """settings.quota; 0 or absent means unlimited (spec prose)."""

    active_time_seconds: int | None = Field(default=None, ge=0)
    compute_time_seconds: int | None = Field(default=None, ge=0)
    written_data_bytes: int | None = Field(default=None, ge=0)
    data_transfer_bytes: int | None = Field(default=None, ge=0)
    logical_size_bytes: int | None = Field(default=None, ge=0)


class ProjectSettings(RequestModel):
    quota: ProjectQuota | None = None
    allowed_ips: dict[str, Any] | None = None
    enable_logical_replication: bool | None = None
    maintenance_window: dict[str, Any] | None = None
    block_public_connections: bool | None = None
    block_vpc_connections: bool | None = None
    audit_log_level: str | None = None
    hipaa: bool | None = None
    preload_libraries: dict[str, Any] | None = None


class DefaultEndpointSettings(RequestModel):
    autoscaling_limit_min_cu: float | None = Field(default=None, ge=0.25)
    autoscaling_limit_max_cu: float | None = Field(default=None, ge=0.25)
    suspend_timeout_seconds: int | None = Field(default=None, ge=-1, le=604800)
    pg_settings: dict[str, str] | None = None


class ProjectBranchSpec(RequestModel):
    name: str | None = None
    role_name: str | None = None
    database_name: str | None = None


class ProjectCreate(RequestModel):
    """Body of POST /projects (wrapped as {"project": ...} on the wire)."""

    name: str | None = Field(default=None, max_length=256)
    region_id: str | None = None
    pg_version: int | None = Field(default=None, ge=14, le=18)
    org_id: str | None = None
    store_passwords: bool | None = None
    history_retention_seconds: int | None = Field(default=None, ge=0, le=2592000)
    provisioner: str | None = None
    branch: ProjectBranchSpec | None = None
    default_endpoint_settings: DefaultEndpointSettings | None = None
    settings: ProjectSettings | None = None


class ProjectUpdate(RequestModel):
    """Body of PATCH /projects/{id}; region, pg_version and org cannot change here."""

    name: str | None = Field(default=None, max_length=256)
    settings: ProjectSettings | None = None
    default_endpoint_settings: DefaultEndpointSettings | None = None
    history_retention_seconds: int | None = Field(default=None, ge=0, le=2592000)


class _ProjectCommon(ResponseModel):
    """Fields shared by Project and ProjectListItem."""

    id: str
    name: str
    region_id: str | None = None
    pg_version: int | None = None
    org_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    settings: dict[str, Any] | None = None
    default_endpoint_settings: dict[str, Any] | None = None
    history_retention_seconds: int | None = None


class ProjectListItem(_ProjectCommon):
    deleted_at: str | None = None
    recoverable_until: str | None = None


class Project(_ProjectCommon):
    active_time_seconds: int | None = None
    compute_time_seconds: int | None = None
    written_data_bytes: int | None = None
    data_transfer_bytes: int | None = None
    consumption_period_start: str | None = None
    consumption_period_end: str | None = None


class ConnectionParameters(ResponseModel):
    database: str
    role: str
    host: str
    pooler_host: str | None = None
    password: SecretStr | None = None


class ConnectionDetails(ResponseModel):
    connection_uri: SecretStr
    connection_parameters: ConnectionParameters


class CreatedProject(ResponseModel):
    project: Project
    connection_uris: list[ConnectionDetails] = []
    roles: list[Role] = []
    databases: list[Database] = []
    operations: list[Operation] = []
    branch: Branch
    endpoints: list[Endpoint] = []


class ProjectResponse(ResponseModel):
    project: Project


class ProjectOperations(ResponseModel):
    project: Project
    operations: list[Operation] = []


class ProjectsPage(ResponseModel):
    projects: list[ProjectListItem]
    pagination: Pagination | None = None


class RecoveredProject(ResponseModel):
    project: Project
    branches: list[Branch] = []


class ConnectionURIResponse(ResponseModel):
    uri: SecretStr


class EnsuredProject(ResponseModel):
    """Result of create_project_idempotent: the project and whether this call created it."""

    project: Project
    created: bool
    response: CreatedProject | None = None
