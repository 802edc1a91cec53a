"""FleetManager (the platform backend's Python API), its errors, events and fleet preview."""

from __future__ import annotations

from neon_tenants.automation._errors import (
    ArchiveFailed,
    DeploymentFailed,
    EngineUnavailable,
    FleetError,
    InvalidRequest,
    LimitsExceeded,
    NeonUnavailable,
    ShardBusy,
    StackNotFound,
    TenantConflict,
    TenantNotFound,
    WaitTimeout,
    translate,
)
from neon_tenants.automation._manager import FleetManager
from neon_tenants.automation._revisions import RollbackResult, RolloutResult
from neon_tenants.automation.events import (
    ProgressCallback,
    ProgressEvent,
    ResourceStep,
    StackProgress,
)
from neon_tenants.automation.models import RestoreResult, TenantConnection, TenantStatus, Usage
from neon_tenants.automation.preview import FleetDiff, fleet_diff, render_markdown

__all__ = [
    "ArchiveFailed",
    "DeploymentFailed",
    "EngineUnavailable",
    "FleetDiff",
    "FleetError",
    "FleetManager",
    "InvalidRequest",
    "LimitsExceeded",
    "NeonUnavailable",
    "ProgressCallback",
    "ProgressEvent",
    "ResourceStep",
    "RestoreResult",
    "RollbackResult",
    "RolloutResult",
    "ShardBusy",
    "StackNotFound",
    "StackProgress",
    "TenantConflict",
    "TenantConnection",
    "TenantNotFound",
    "TenantStatus",
    "Usage",
    "WaitTimeout",
    "fleet_diff",
    "render_markdown",
    "translate",
]
