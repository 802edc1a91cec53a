"""Organizations, API keys and users (spec tags "Organizations", "API Key", "Users")."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from ._base import RequestModel, ResponseModel


class Organization(ResponseModel):
    id: str
    name: str
    handle: str | None = None
    plan: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    managed_by: str | None = None


class OrganizationsResponse(ResponseModel):
    organizations: list[Organization]


class TransferProjects(RequestModel):
    """Body of POST /organizations/{source_org_id}/projects/transfer (1..400 ids)."""

    destination_org_id: str
    project_ids: list[str] = Field(min_length=1, max_length=400)


class ApiKeyCreate(RequestModel):
    key_name: str


class OrgApiKeyCreate(RequestModel):
    key_name: str
    project_id: str | None = None


class ApiKeyInfo(ResponseModel):
    """A list/revoke item: never contains the token."""

    id: int
    name: str
    created_at: str | None = None
    created_by: Any = None
    last_used_at: str | None = None
    last_used_from_addr: str | None = None
    revoked: bool | None = None
    project_id: str | None = None


class CreatedApiKey(ResponseModel):
    """The token is returned once; kept as SecretStr."""

    id: int
    key: SecretStr
    name: str
    created_at: str | None = None
    created_by: Any = None
    project_id: str | None = None


class CurrentUser(ResponseModel):
    id: str
    email: str | None = None
    name: str | None = None
    plan: str | None = None
    projects_limit: int | None = None
    branches_limit: int | None = None
    max_autoscaling_limit: float | None = None
