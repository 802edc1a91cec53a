"""FleetManager (the platform backend's Python API), its errors, events and fleet preview."""

from __future__ import annotations

from neon_tenants.automation._bulk import BulkMove
from neon_tenants.automation._bulk_ops import BulkMoveStatus
from neon_tenants.automation._errors import (
    ArchiveFailed,
    DeploymentFailed,
    EngineUnavailable,
    FleetError,
    InvalidRequest,
    LimitsExceeded,
    NeonUnavailable,
    OperationInProgress,
    ShardBusy,
    StackNotFound,
    TenantConflict,
    TenantNotFound,
    TransferBlocked,
    WaitTimeout,
    translate,
)
from neon_tenants.automation._manager import FleetManager
from neon_tenants.automation._revisions import RollbackResult
from neon_tenants.automation._rollout import RolloutResult
from neon_tenants.automation._rollout_ops import RolloutStatus
from neon_tenants.automation.events import (
    ProgressCallback,
    ProgressEvent,
    ResourceStep,
    StackProgress,
)
from neon_tenants.automation.models import (
    BranchConnection,
    NeonAuthKeys,
    RestoreResult,
    TenantConnection,
    TenantStatus,
    Usage,
)
from neon_tenants.automation.preview import FleetDiff, fleet_diff, render_markdown

__all__ = [
    "ArchiveFailed",
    "BranchConnection",
    "BulkMove",
    "BulkMoveStatus",
    "DeploymentFailed",
    "EngineUnavailable",
    "FleetDiff",
    "FleetError",
    "FleetManager",
    "InvalidRequest",
    "LimitsExceeded",
    "OperationInProgress",
    "NeonAuthKeys",
    "NeonUnavailable",
    "ProgressCallback",
    "ProgressEvent",
    "ResourceStep",
    "RestoreResult",
    "RollbackResult",
    "RolloutResult",
    "RolloutStatus",
    "ShardBusy",
    "StackNotFound",
    "StackProgress",
    "TenantConflict",
    "TenantConnection",
    "TenantNotFound",
    "TenantStatus",
    "TransferBlocked",
    "Usage",
    "WaitTimeout",
    "fleet_diff",
    "render_markdown",
    "translate",
]
