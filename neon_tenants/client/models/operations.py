"""Operation models (spec tag "Operation") and the two pagination shapes."""

from __future__ import annotations

from typing import Literal

from ._base import ResponseModel

OperationStatus = Literal[
    "scheduling", "running", "finished", "failed", "error", "cancelling", "cancelled", "skipped"
]
TERMINAL_OK = frozenset({"finished", "skipped", "cancelled"})


class Operation(ResponseModel):
    id: str
    project_id: str
    action: str
    status: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    error: str | None = None
    failures_count: int = 0
    retry_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    total_duration_ms: int | None = None


class OperationResponse(ResponseModel):
    operation: Operation


class Pagination(ResponseModel):
    """Style 1 (projects, operations, consumption): send back `cursor`."""

    cursor: str | None = None


class CursorPagination(ResponseModel):
    """Style 2 (branches): send back `next` as `cursor`."""

    next: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None


class OperationsPage(ResponseModel):
    operations: list[Operation]
    pagination: Pagination | None = None
