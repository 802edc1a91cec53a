"""Build the usage service from a FleetManager and the environment (CLI and platform code).

The poller gets a client of its own (counted, consumption paced) on the same credentials and
base URL as the fleet's; the webhook comes from NEON_TENANTS_WEBHOOK_* (delivery.py); the
store is the embedded file store under `.state/monitoring`, or PostgreSQL in the PostgreSQL
mode (`open_store`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from neon_tenants.monitoring.cleanup import Cleanup, CleanupPolicy
from neon_tenants.monitoring.delivery import (
    CallbackSink,
    Dispatcher,
    Sink,
    WebhookConfig,
    WebhookSink,
)
from neon_tenants.monitoring.directory import fleet_directory
from neon_tenants.monitoring.models import CycleReport, Event
from neon_tenants.monitoring.poller import Pacing, Poller, PollerConfig, make_client
from neon_tenants.monitoring.rules import AlertRules
from neon_tenants.monitoring.service import UsageService
from neon_tenants.monitoring.store import FileUsageStore, UsageStore
from neon_tenants.monitoring.suspension import QuotaRaiser

if TYPE_CHECKING:
    from neon_tenants.automation import FleetManager


def default_store_dir(manager: FleetManager) -> Path:
    return manager.work_dir / ".state" / "monitoring"


def open_store(folder: Path | None, default: Path) -> UsageStore:
    """An explicit folder wins; else PostgreSQL when NEON_TENANTS_DATABASE_URL is set (the
    PostgreSQL mode, tables from `neon-tenants db migrate`); else files in `default`."""
    if folder is not None:
        return FileUsageStore(folder)
    from neon_tenants.db import database_url

    url = database_url()
    if url is not None:
        from neon_tenants.monitoring.pg_store import PostgresUsageStore

        return PostgresUsageStore(url.conninfo())
    return FileUsageStore(default)


def build_service(
    manager: FleetManager,
    *,
    config: PollerConfig | None = None,
    rules: AlertRules | None = None,
    store_dir: Path | None = None,
    store: UsageStore | None = None,
    callbacks: list[Callable[[Event], None]] | None = None,
    webhook: WebhookConfig | None = None,
    cleanup: CleanupPolicy | None = None,
    on_cycle: Callable[[CycleReport], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> UsageService:
    """`cleanup` turns on inactive-tenant notices and deletes through `manager.delete`."""
    cfg = config or PollerConfig()
    pacing = Pacing(cfg)
    fleet_client = manager.client
    client, transport = make_client(
        fleet_client.credentials, fleet_client.config.base_url, pacing,
        list_page_size=cfg.list_page_size,
    )  # fmt: skip
    store = store or open_store(store_dir, default_store_dir(manager))
    sinks: list[Sink] = [CallbackSink(fn, f"callback-{i}") for i, fn in
                         enumerate(callbacks or [])]  # fmt: skip
    hook = webhook if webhook is not None else WebhookConfig.from_env()
    if hook is not None:
        sinks.insert(0, WebhookSink(hook))
    dispatcher = Dispatcher(store, sinks, attempts=hook.attempts if hook else 5,
                            backoff_initial=hook.backoff_initial if hook else 0.5,
                            backoff_max=hook.backoff_max if hook else 30.0)  # fmt: skip
    poller = Poller(client, transport, fleet_directory(manager), store, manager.catalog, cfg,
                    pacing=pacing)  # fmt: skip
    step = Cleanup(store, cleanup, manager.delete, now=now) if cleanup is not None else None
    raiser = QuotaRaiser(manager.catalog, manager.upgrade)
    return UsageService(poller, store, dispatcher, rules, cleanup=step, on_cycle=on_cycle,
                        on_error=on_error, on_suspended=raiser)
