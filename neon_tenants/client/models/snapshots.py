"""Snapshot models (spec tag "Snapshot", beta)."""

from __future__ import annotations

from ._base import RequestModel, ResponseModel
from .branches import Branch
from .endpoints import Endpoint
from .operations import Operation


class Snapshot(ResponseModel):
    id: str
    name: str
    created_at: str | None = None
    lsn: str | None = None
    timestamp: str | None = None
    source_branch_id: str | None = None
    expires_at: str | None = None
    manual: bool | None = None
    full_size: int | None = None
    diff_size: int | None = None


class SnapshotOperations(ResponseModel):
    snapshot: Snapshot
    operations: list[Operation] = []


class SnapshotResponse(ResponseModel):
    snapshot: Snapshot


class SnapshotsResponse(ResponseModel):
    snapshots: list[Snapshot]


class SnapshotRestore(RequestModel):
    name: str | None = None
    target_branch_id: str | None = None
    finalize_restore: bool | None = None


class RestoredSnapshot(ResponseModel):
    branch: Branch
    endpoints: list[Endpoint] | None = None
    operations: list[Operation] = []


class OperationsOnly(ResponseModel):
    operations: list[Operation] = []
