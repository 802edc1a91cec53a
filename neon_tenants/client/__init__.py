"""The Neon API client (issue 3): httpx + pydantic v2, for Neon or the local emulator."""

from __future__ import annotations

from . import errors, models
from ._client import NeonClient, OrgClient
from ._config import DEFAULT_BASE_URL, ClientConfig
from ._credentials import NeonCredentials, OrgCredential
from ._personal import PersonalClient
from .errors import (
    AmbiguousOutcome,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    Locked,
    MissingCredential,
    NeonAPIError,
    NeonError,
    NotFound,
    OperationFailed,
    OperationTimeout,
    RateLimited,
    TransferIntegrationsBlocked,
    TransferLimitsNotMet,
)
from .models import (
    BranchCreate,
    BranchSpec,
    BranchUpdate,
    EndpointCreate,
    EndpointCreateOptions,
    EndpointUpdate,
    ProjectCreate,
    ProjectQuota,
    ProjectSettings,
    ProjectUpdate,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "AmbiguousOutcome",
    "BranchCreate",
    "BranchSpec",
    "BranchUpdate",
    "ClientConfig",
    "Conflict",
    "DeadlineExceeded",
    "EndpointCreate",
    "EndpointCreateOptions",
    "EndpointUpdate",
    "Forbidden",
    "Locked",
    "MissingCredential",
    "NeonAPIError",
    "NeonClient",
    "NeonCredentials",
    "NeonError",
    "NotFound",
    "OperationFailed",
    "OperationTimeout",
    "OrgClient",
    "OrgCredential",
    "PersonalClient",
    "ProjectCreate",
    "ProjectQuota",
    "ProjectSettings",
    "ProjectUpdate",
    "RateLimited",
    "TransferIntegrationsBlocked",
    "TransferLimitsNotMet",
    "errors",
    "models",
]
