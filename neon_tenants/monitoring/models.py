"""The records monitoring keeps besides readings: events, deliveries, notices, cycle reports."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventKind = Literal["quota_threshold", "quota_suspended", "cleanup_notice", "cleanup_cancelled",
                    "cleanup_deleted", "cleanup_failed", "quota_raised", "quota_raise_failed"]
Level = Literal["warning", "critical"]


class Event(BaseModel):
    """Something someone must hear about. The id is derived from what makes it unique (kind,
    tenant, metric, level, period), so raising it twice is recognised and a receiver can
    drop a redelivery after a crash."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: EventKind
    tenant: str
    tier: str
    project_id: str
    period: str
    created_at: str
    metric: str | None = None
    level: Level | None = None
    used: int | None = None
    limit: int | None = None
    percent: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def make_id(*parts: str | None) -> str:
        return hashlib.sha256("|".join(p or "" for p in parts).encode()).hexdigest()[:24]


class DeliveryRecord(BaseModel):
    """One attempt to hand an event to a sink (the delivery log)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    sink: str
    attempt: int
    at: str
    ok: bool
    status: int | None = None
    error: str | None = None


class Notice(BaseModel):
    """A deletion notice for an inactive tenant: deleted no earlier than `delete_after`."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    project_id: str
    noticed_at: str
    delete_after: str
    last_active_at: str
    status: Literal["pending", "cancelled", "deleted"] = "pending"


class CycleReport(BaseModel):
    """What one poll cycle cost and found."""

    model_config = ConfigDict(frozen=True)

    started_at: str
    duration_seconds: float = Field(description="wall time of the cycle")
    scheduled_seconds: float = Field(default=0.0, description="on the pacing clock")
    tenants: int
    readings: int
    requests: dict[str, int]
    requests_total: int
    consumption_requests: int
    consumption_paced_seconds: float = 0.0
    paced_seconds: float = 0.0
    project_reads: int
    orgs_without_consumption: list[str] = Field(default_factory=list)
    missing_projects: list[str] = Field(default_factory=list)
    events: int = 0
    webhook_failures: int = 0
