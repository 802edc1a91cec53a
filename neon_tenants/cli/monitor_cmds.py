"""`neon-tenants usage report|alerts|export|cleanup`: the monitor capability on the CLI.

Read-only by default: `cleanup` only lists what it would do unless `--apply` is given.
Credentials come from the NEON_* environment (ARCHITECTURE.md); no key is ever printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neon_tenants.cli._output import Output

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.monitoring import Alert, CleanupResult, TenantUsage, Thresholds

monitor_app = typer.Typer(no_args_is_help=True, help="Usage vs quotas, alerts, billing, cleanup.")

JSON = typer.Option(False, "--json", help="machine-readable output on stdout")
ORG = typer.Option(None, "--org", "-o", help="org alias (free, paid); default: every org")
SEARCH = typer.Option(None, "--search", help="only projects whose name or id contains this")
WARN = typer.Option(0.80, "--warning", help="warning threshold (ratio of the limit)")
CRIT = typer.Option(0.95, "--critical", help="critical threshold (ratio of the limit)")
OUTPUT = typer.Option(None, "--output", help="file; default stdout")
PROTECT = typer.Option([], "--protect", help="project name, id or tenant never to delete")
ARCHIVE_DIR = typer.Option(None, "--archive-dir", help="manifests; default .state/archive")
AS_OF = typer.Option(None, "--as-of", help="preview idleness at this time (dry run only)")
RULES = typer.Option(None, "--rules", help="alert rules YAML (per tier and metric)")
STORE = typer.Option(None, "--store", help="monitoring store; default .state/monitoring")
COLOURS = {"critical": "bold red", "warning": "yellow"}
NO_CREDENTIALS = (
    "no Neon credentials: set NEON_CREDENTIALS_FILE (or NEON_FREE_ORG_ID/_API_KEY, "
    "NEON_PAID_ORG_ID/_API_KEY) and NEON_API_BASE_URL; for the local emulator run "
    "`neon-tenants emulator serve --port 8080 --data-dir .emulator`, then "
    "NEON_API_BASE_URL=http://127.0.0.1:8080/api/v2 "
    "NEON_CREDENTIALS_FILE=.emulator/credentials.json"
)


@contextmanager
def _session(as_json: bool) -> Iterator[tuple[NeonClient, Output]]:
    """A client from the environment; API failures become one error line and exit 1."""
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials
    from neon_tenants.client.errors import NeonError

    out = Output(as_json)
    creds = NeonCredentials.from_env()
    if creds.is_empty():
        out.error(NO_CREDENTIALS)
        raise typer.Exit(2)
    base = os.environ.get("NEON_API_BASE_URL") or "https://console.neon.tech/api/v2"
    try:
        with NeonClient(creds, ClientConfig(base_url=base)) as client:
            yield client, out
    except NeonError as exc:
        out.error(str(exc), kind=type(exc).__name__)
        raise typer.Exit(1) from None


def _orgs(client: NeonClient, alias: str | None) -> list[OrgClient]:
    aliases = [alias] if alias else sorted(client.credentials.orgs)
    return [client.org(a) for a in aliases]


def _thresholds(warning: float, critical: float) -> Thresholds:
    from neon_tenants.monitoring import Thresholds

    try:
        return Thresholds(warning=warning, critical=critical)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def human(metric: str, value: int) -> str:
    """Seconds as hours, bytes as MiB/GiB: what the guide's tier table uses."""
    if metric.endswith("_seconds"):
        return f"{value / 3600:.1f} h"
    if value >= 1024**3:
        return f"{value / 1024**3:.2f} GiB"
    return f"{value / 1024**2:.1f} MiB"


def _cell(metric: str, used: int, limit: int, percent: float | None) -> str:
    if not limit:
        return f"{human(metric, used)} / ∞"
    return f"{human(metric, used)} / {human(metric, limit)} ({percent:.0f}%)"


def _report_table(usages: list[TenantUsage], rules: Thresholds) -> Table:
    from neon_tenants.monitoring import METRICS

    table = Table(title="tenant usage vs quota (this billing period)")
    for col in ("tenant", "org", "tier", "project", *METRICS):
        table.add_column(col.replace("_bytes", "").replace("_seconds", ""))
    for u in usages:
        level = rules.level(u.worst_ratio)
        cells = [_cell(m.name, m.used, m.limit, m.percent) for m in u.metrics]
        tier = u.tier or "custom"
        table.add_row(u.tenant, u.org, tier, u.project_id, *cells, style=COLOURS.get(level or ""))
    return table


def _alerts_table(alerts: list[Alert]) -> Table:
    table = Table(title="quota alerts")
    for col in ("level", "tenant", "org", "project", "metric", "used", "limit", "percent"):
        table.add_column(col)
    for a in alerts:
        table.add_row(
            a.level, a.tenant, a.org, a.project_id, a.metric, human(a.metric, a.used),
            human(a.metric, a.limit), f"{a.percent:.1f}%", style=COLOURS[a.level],
        )  # fmt: skip
    return table


def _collect(client: NeonClient, org: str | None, search: str | None) -> list[TenantUsage]:
    from neon_tenants._settings import paths
    from neon_tenants.catalog import load_catalog
    from neon_tenants.monitoring import collect_usage

    tiers_file = paths().repo_root / "stacks" / "tiers.yaml"
    catalog = load_catalog(tiers_file if tiers_file.is_file() else None)
    usages: list[TenantUsage] = []
    for oc in _orgs(client, org):
        usages.extend(collect_usage(oc, search=search, catalog=catalog))
    return usages


@monitor_app.command()
def report(
    org: str | None = ORG,
    search: str | None = SEARCH,
    warning: float = WARN,
    critical: float = CRIT,
    as_json: bool = JSON,
) -> None:
    """Every tenant's counters against its project quota, coloured by alert level."""
    rules = _thresholds(warning, critical)
    with _session(as_json) as (client, out):
        usages = _collect(client, org, search)
        if as_json:
            out.data([u.model_dump(mode="json") for u in usages])
        else:
            out.console.print(_report_table(usages, rules))


@monitor_app.command()
def alerts(
    org: str | None = ORG,
    search: str | None = SEARCH,
    warning: float = WARN,
    critical: float = CRIT,
    strict: bool = typer.Option(False, "--strict", help="exit 1 when any alert is raised"),
    as_json: bool = JSON,
) -> None:
    """Tenants at or above the warning (80 %) / critical (95 %) thresholds."""
    from neon_tenants.monitoring import evaluate

    rules = _thresholds(warning, critical)
    with _session(as_json) as (client, out):
        found = evaluate(_collect(client, org, search), rules)
        if as_json:
            out.data([a.model_dump(mode="json") for a in found])
        elif found:
            out.console.print(_alerts_table(found))
        else:
            out.text("no tenant is at or above the warning threshold")
    if strict and found:
        raise typer.Exit(1)


def _default_range() -> tuple[str, str]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (now - timedelta(days=1)).replace(hour=0)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ"), now.strftime("%Y-%m-%dT%H:%M:%SZ")


@monitor_app.command()
def export(
    from_: str | None = typer.Option(None, "--from", help="RFC 3339 start; default yesterday"),
    to: str | None = typer.Option(None, "--to", help="RFC 3339 end; default now"),
    granularity: str = typer.Option("daily", "--granularity", help="hourly | daily | monthly"),
    fmt: str = typer.Option("csv", "--format", help="csv | jsonl"),
    metrics: str | None = typer.Option(None, "--metrics", help="comma list of v2 metric names"),
    output: Path | None = OUTPUT,
    org: str | None = ORG,
) -> None:
    """Consumption v2 rows for billing: one per project, timeframe and metric."""
    from neon_tenants.monitoring import DEFAULT_METRICS, export, iter_billing_rows

    if granularity not in ("hourly", "daily", "monthly"):
        raise typer.BadParameter("granularity must be hourly, daily or monthly")
    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter("format must be csv or jsonl")
    start, end = _default_range()
    wanted = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else DEFAULT_METRICS
    with _session(False) as (client, out):
        rows: list[Any] = []
        for oc in _orgs(client, org):
            names = {p.id: p.name for p in oc.iter_projects()}
            try:
                rows.extend(
                    iter_billing_rows(oc, from_ or start, to or end, granularity, wanted,  # type: ignore[arg-type]
                                      names=names)
                )  # fmt: skip
            except ValueError as exc:
                raise typer.BadParameter(str(exc)) from None
        if output is None:
            count = export(rows, sys.stdout, fmt)  # type: ignore[arg-type]
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = export(rows, handle, fmt)  # type: ignore[arg-type]
        out.err.print(f"[dim]{count} rows[/]")


def _render_cleanup(out: Output, results: list[CleanupResult], apply: bool, days: float) -> None:
    if out.as_json:
        out.data({"dry_run": not apply, "results": [r.model_dump(mode="json") for r in results]})
        return
    if not results:
        out.text(f"no tenant has been inactive for {days:g} days")
        return
    table = Table(title=("DRY RUN: " if not apply else "") + "inactive tenants")
    for col in ("tenant", "org", "project", "idle days", "action", "snapshot", "detail"):
        table.add_column(col)
    for r in results:
        c = r.candidate
        until = f"recoverable until {r.recoverable_until}" if r.recoverable_until else None
        detail = r.error or until or r.manifest_path or ""
        table.add_row(c.tenant, c.org, c.project_id, f"{c.inactive_days:.1f}", r.action,
                      r.snapshot_id or r.snapshot_name or "", detail)  # fmt: skip
    out.console.print(table)
    if not apply:
        out.text("nothing was changed; re-run with --apply to archive and delete")
    elif any(r.action == "archived_and_deleted" for r in results):
        out.text("deleted projects stay recoverable for 7 days (POST /projects/{id}/recover)")


@monitor_app.command()
def cleanup(
    inactive_days: float = typer.Option(..., "--inactive-days", help="idle for at least N days"),
    apply: bool = typer.Option(False, "--apply", help="really archive and delete"),
    protect: list[str] = PROTECT,
    archive_dir: Path | None = ARCHIVE_DIR,
    as_of: str | None = AS_OF,
    search: str | None = SEARCH,
    org: str | None = ORG,
    as_json: bool = JSON,
) -> None:
    """Archive (snapshot + manifest) then delete idle tenants; a dry run unless --apply."""
    from neon_tenants._settings import paths
    from neon_tenants.monitoring import cleanup_inactive
    from neon_tenants.monitoring.cleanup import parse_ts

    if as_of and apply:
        raise typer.BadParameter("--as-of only previews (dry run); it cannot be used with --apply")
    try:
        now = parse_ts(as_of) if as_of else None
    except ValueError:
        raise typer.BadParameter(f"--as-of {as_of!r} is not an RFC 3339 timestamp") from None
    folder = archive_dir or paths().state_dir / "archive"
    with _session(as_json) as (client, out):
        reports = [
            cleanup_inactive(oc, inactive_days, folder, dry_run=not apply, now=now,
                             search=search, protected=protect)
            for oc in _orgs(client, org)
        ]  # fmt: skip
        results = [r for rep in reports for r in rep.results]
        _render_cleanup(out, results, apply, inactive_days)
    if any(r.action == "failed" for r in results):
        raise typer.Exit(1)


@monitor_app.command()
def watch(
    interval: float = typer.Option(900.0, "--interval", help="seconds between cycles (>= 900)"),
    once: bool = typer.Option(False, "--once", help="run one cycle and exit"),
    cycles: int | None = typer.Option(None, "--cycles", help="stop after this many cycles"),
    rules: Path | None = RULES,
    store_dir: Path | None = STORE,
    max_reads: int = typer.Option(1500, "--max-project-reads", help="per-project reads/cycle"),
    as_json: bool = JSON,
) -> None:
    """Poll every fleet tenant's usage each cycle, raise alerts once per period, deliver them
    (webhook from NEON_TENANTS_WEBHOOK_URL + _SECRET[_FILE], or NEON_TENANTS_WEBHOOK_FILE)."""
    from neon_tenants.automation import FleetError
    from neon_tenants.cli._context import fleet_manager
    from neon_tenants.monitoring.poller import PollerConfig
    from neon_tenants.monitoring.rules import AlertRules
    from neon_tenants.monitoring.wiring import build_service

    out = Output(as_json)
    try:
        config = PollerConfig(interval_seconds=interval, max_project_reads=max_reads)
        alert_rules = AlertRules.load(rules)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        with fleet_manager() as fm:
            service = build_service(
                fm, config=config, rules=alert_rules, store_dir=store_dir,
                on_cycle=lambda r: out.data(r.model_dump(mode="json")) if as_json else out.text(
                    f"cycle: {r.readings}/{r.tenants} tenants, {r.requests_total} requests "
                    f"({r.consumption_requests} consumption), {r.events} events, "
                    f"{r.webhook_failures} webhook failures, {r.duration_seconds:.1f}s"),
            )  # fmt: skip
            service.run(cycles=1 if once else cycles)
    except FleetError as exc:
        out.error(str(exc), kind=type(exc).__name__)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        out.text("stopped")
