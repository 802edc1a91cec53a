"""Branch, database and role models (spec tag "Branch")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr

from ._base import RequestModel, ResponseModel
from .endpoints import Endpoint, EndpointCreateOptions
from .operations import CursorPagination, Operation


class BranchSpec(RequestModel):
    """The `branch` object of POST /projects/{id}/branches."""

    parent_id: str | None = None
    name: str | None = Field(default=None, max_length=256)
    parent_lsn: str | None = None
    parent_timestamp: str | None = None  # RFC 3339
    protected: bool | None = None
    archived: bool | None = None
    init_source: Literal["parent-data", "schema-only"] | None = None
    expires_at: str | None = None  # RFC 3339, to the second


class BranchCreate(RequestModel):
    """Body of POST /projects/{id}/branches; without endpoints no compute is created."""

    branch: BranchSpec | None = None
    endpoints: list[EndpointCreateOptions] | None = None
    annotation_value: dict[str, str] | None = None


class BranchUpdate(RequestModel):
    name: str | None = Field(default=None, max_length=256)
    protected: bool | None = None
    expires_at: str | None = None


class BranchRestore(RequestModel):
    source_branch_id: str
    source_lsn: str | None = None
    source_timestamp: str | None = None
    preserve_under_name: str | None = None


class Branch(ResponseModel):
    id: str
    project_id: str
    name: str
    current_state: str | None = None
    pending_state: str | None = None
    parent_id: str | None = None
    parent_lsn: str | None = None
    parent_timestamp: str | None = None
    default: bool = False
    protected: bool = False
    created_at: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    init_source: str | None = None
    logical_size: int | None = None
    restore_status: str | None = None
    restored_from: str | None = None
    restored_as: str | None = None
    restricted_actions: list[dict[str, Any]] | None = None


class Database(ResponseModel):
    id: int
    branch_id: str
    name: str
    owner_name: str
    created_at: str | None = None
    updated_at: str | None = None


class Role(ResponseModel):
    branch_id: str
    name: str
    password: SecretStr | None = None
    protected: bool | None = None
    authentication_method: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ConnectionDetailsOptional(ResponseModel):
    connection_uri: SecretStr
    connection_parameters: dict[str, Any]


class CreatedBranch(ResponseModel):
    branch: Branch
    endpoints: list[Endpoint] = []
    operations: list[Operation] = []
    roles: list[Role] = []
    databases: list[Database] = []
    connection_uris: list[ConnectionDetailsOptional] | None = None


class BranchResponse(ResponseModel):
    branch: Branch


class BranchOperations(ResponseModel):
    branch: Branch
    operations: list[Operation] = []


class BranchesPage(ResponseModel):
    branches: list[Branch]
    pagination: CursorPagination | None = None


class BranchesCount(ResponseModel):
    count: int


class SchemaCompare(ResponseModel):
    diff: str = ""


class BranchSchema(ResponseModel):
    sql: str | None = None
    json_: Any = Field(default=None, alias="json")


class DatabaseCreate(RequestModel):
    name: str
    owner_name: str


class DatabaseOperations(ResponseModel):
    database: Database
    operations: list[Operation] = []


class DatabasesResponse(ResponseModel):
    databases: list[Database]


class RoleCreate(RequestModel):
    name: str = Field(max_length=63)
    no_login: bool | None = None


class RoleOperations(ResponseModel):
    role: Role
    operations: list[Operation] = []


class RolesResponse(ResponseModel):
    roles: list[Role]


class RolePassword(ResponseModel):
    password: SecretStr
