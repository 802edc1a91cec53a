"""Neon Auth (branch-scoped) and Data API models (spec tag "Auth" / data-api routes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SecretStr

from ._base import RequestModel, ResponseModel


class NeonAuthCreate(RequestModel):
    auth_provider: Literal["mock", "stack", "better_auth"]
    database_name: str | None = None


class NeonAuthCreated(ResponseModel):
    auth_provider: str
    auth_provider_project_id: str
    pub_client_key: str
    secret_server_key: SecretStr
    jwks_url: str
    schema_name: str | None = None
    table_name: str | None = None
    base_url: str | None = None


class NeonAuthIntegration(ResponseModel):
    auth_provider: str
    auth_provider_project_id: str
    branch_id: str
    db_name: str
    jwks_url: str
    created_at: str | None = None
    owned_by: str | None = None
    base_url: str | None = None


class DataApiCreate(RequestModel):
    auth_provider: Literal["neon_auth", "external"] | None = None
    jwks_url: str | None = None
    provider_name: str | None = None
    jwt_audience: str | None = None
    add_default_grants: bool | None = None
    skip_auth_schema: bool | None = None
    settings: dict[str, Any] | None = None


class DataApiUpdate(RequestModel):
    settings: dict[str, Any] | None = None


class DataApiCreated(ResponseModel):
    url: str


class DataApi(ResponseModel):
    url: str
    status: str
    settings: dict[str, Any] | None = None
    available_schemas: list[str] | None = None
