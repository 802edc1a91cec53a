"""Monitoring as a running service: usage polling, alerts, metrics, billing, cleanup (#13).

`neon-tenants usage watch` runs `UsageService` (poller -> rules -> outbox -> sinks, plus the
cleanup step); `usage serve` exposes the store as Prometheus metrics; `usage export` prices
each tenant's consumption by tier. Tenants and tiers come from the fleet (directory.py).
"""

from __future__ import annotations

from neon_tenants.monitoring.alerts import Thresholds
from neon_tenants.monitoring.cleanup import Cleanup, CleanupPolicy
from neon_tenants.monitoring.delivery import (
    CallbackSink,
    DeliveryFailed,
    Dispatcher,
    WebhookConfig,
    WebhookSink,
    sign,
    verify,
)
from neon_tenants.monitoring.directory import fleet_directory, static_directory
from neon_tenants.monitoring.invoice import InvoiceRow, TierTotal, invoice, totals
from neon_tenants.monitoring.models import CycleReport, DeliveryRecord, Event, Notice
from neon_tenants.monitoring.poller import Poller, PollerConfig, make_client
from neon_tenants.monitoring.readings import METRICS, Reading, TenantRef
from neon_tenants.monitoring.rules import AlertRules, events_for
from neon_tenants.monitoring.service import UsageService
from neon_tenants.monitoring.store import FileUsageStore, UsageStore
from neon_tenants.monitoring.wiring import build_service

__all__ = [
    "METRICS",
    "AlertRules",
    "CallbackSink",
    "Cleanup",
    "CleanupPolicy",
    "CycleReport",
    "DeliveryFailed",
    "DeliveryRecord",
    "Dispatcher",
    "Event",
    "FileUsageStore",
    "InvoiceRow",
    "Notice",
    "Poller",
    "PollerConfig",
    "Reading",
    "TenantRef",
    "Thresholds",
    "TierTotal",
    "UsageService",
    "UsageStore",
    "WebhookConfig",
    "WebhookSink",
    "build_service",
    "events_for",
    "fleet_directory",
    "invoice",
    "make_client",
    "sign",
    "static_directory",
    "totals",
    "verify",
]
