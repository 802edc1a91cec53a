"""Endpoint (compute) models (spec tag "Endpoint")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import RequestModel, ResponseModel
from .operations import Operation

EndpointType = Literal["read_write", "read_only"]


class EndpointCreateOptions(RequestModel):
    """An endpoint created together with a branch (BranchCreateRequestEndpointOptions)."""

    type: EndpointType
    autoscaling_limit_min_cu: float | None = Field(default=None, ge=0.25)
    autoscaling_limit_max_cu: float | None = Field(default=None, ge=0.25)
    suspend_timeout_seconds: int | None = Field(default=None, ge=-1, le=604800)
    provisioner: str | None = None
    settings: dict[str, Any] | None = None


class _EndpointFields(RequestModel):
    """What an endpoint's create and update bodies share, with the spec's ranges."""

    autoscaling_limit_min_cu: float | None = Field(default=None, ge=0.25)
    autoscaling_limit_max_cu: float | None = Field(default=None, ge=0.25)
    suspend_timeout_seconds: int | None = Field(default=None, ge=-1, le=604800)
    provisioner: str | None = None
    settings: dict[str, Any] | None = None
    disabled: bool | None = None
    passwordless_access: bool | None = None
    name: str | None = Field(default=None, max_length=64)


class EndpointCreate(_EndpointFields):
    """The `endpoint` object of POST /projects/{id}/endpoints."""

    branch_id: str
    type: EndpointType
    region_id: str | None = None


class EndpointUpdate(_EndpointFields):
    """The `endpoint` object of PATCH .../endpoints/{id} (type and region cannot change)."""


class Endpoint(ResponseModel):
    id: str
    project_id: str
    branch_id: str
    host: str
    type: str
    current_state: str | None = None
    pending_state: str | None = None
    region_id: str | None = None
    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None
    disabled: bool | None = None
    name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class EndpointResponse(ResponseModel):
    endpoint: Endpoint


class EndpointOperations(ResponseModel):
    endpoint: Endpoint
    operations: list[Operation] = []


class EndpointsResponse(ResponseModel):
    endpoints: list[Endpoint]
