"""`neon-tenants usage watch|serve|report|alerts|export|cleanup`: monitoring on the CLI.

`watch` is the running service (poll, alert, deliver, clean up); `serve` exposes what it
stored as Prometheus metrics; `report` and `alerts` read the store (no API call); `export`
prices each fleet tenant's consumption for a billing period; `cleanup` lists idle tenants and
notices (dry run) or runs one cycle with notices and due deletes (`--apply`). Tenants and
tiers come from the fleet. No key, webhook URL or secret is ever printed.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neon_tenants.cli._output import Output

if TYPE_CHECKING:
    from neon_tenants.automation import FleetManager
    from neon_tenants.monitoring import CleanupPolicy, Reading, UsageService
    from neon_tenants.monitoring.store import UsageStore

monitor_app = typer.Typer(no_args_is_help=True, help="Usage polling, alerts, metrics, billing.")

JSON = typer.Option(False, "--json", help="machine-readable output on stdout")
RULES = typer.Option(None, "--rules", help="alert rules YAML (per tier and metric)")
STORE = typer.Option(None, "--store", help="store folder; default PostgreSQL in the PostgreSQL "
                     "mode, else .state/monitoring")
PERIOD = typer.Option(None, "--period", help="billing period YYYY-MM; default this month")
INACTIVE = typer.Option(None, "--inactive-days", help="idle this long gets a deletion notice")
NOTICE = typer.Option(7.0, "--notice-days", help="days between the notice and the deletion")
OUTPUT = typer.Option(None, "--output", help="file; default stdout")
COLOURS = {"critical": "bold red", "warning": "yellow"}


def _default_store() -> Path:
    """`.state/monitoring` beside the stacks dir the fleet commands use (cli/_context.py)."""
    from neon_tenants._settings import paths

    stacks = Path(os.environ.get("NEON_TENANTS_STACKS_DIR") or paths().repo_root / "stacks")
    return stacks.parent / ".state" / "monitoring"


def _store(folder: Path | None) -> UsageStore:
    from neon_tenants.monitoring.wiring import open_store

    return open_store(folder, _default_store())


def _period(value: str | None) -> str:
    from neon_tenants.monitoring.readings import period_of

    if value is None:
        return period_of(datetime.now(UTC))
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise typer.BadParameter(f"--period {value!r}: expected YYYY-MM") from None
    return value


def _policy(inactive: float | None, notice: float) -> CleanupPolicy | None:
    from neon_tenants.monitoring import CleanupPolicy

    if inactive is None:
        return None
    try:
        return CleanupPolicy(inactive_days=inactive, notice_days=notice)
    except ValueError as exc:
        raise typer.BadParameter(f"--inactive-days > 0 and --notice-days >= 1: {exc}") from None


@contextmanager
def _fleet(out: Output) -> Iterator[FleetManager]:
    from neon_tenants.automation import FleetError
    from neon_tenants.cli._context import fleet_manager
    from neon_tenants.client.errors import NeonError

    try:
        with fleet_manager() as fm:
            yield fm
    except (FleetError, NeonError) as exc:
        out.error(str(exc), kind=type(exc).__name__)
        raise typer.Exit(1) from None


def human(metric: str, value: int) -> str:
    """Seconds as hours, bytes as MiB/GiB: what the guide's tier table uses."""
    if metric.endswith("_seconds"):
        return f"{value / 3600:.1f} h"
    if value >= 1024**3:
        return f"{value / 1024**3:.2f} GiB"
    return f"{value / 1024**2:.1f} MiB"


def _cell(r: Reading, metric: str) -> str:
    if metric not in r.used:
        return "-"
    limit = r.limits.get(metric, 0)
    used = human(metric, r.used[metric])
    return f"{used} / ∞" if not limit else f"{used} / {human(metric, limit)} " \
        f"({r.used[metric] / limit:.0%})"


@monitor_app.command()
def report(store_dir: Path | None = STORE, as_json: bool = JSON) -> None:
    """The latest reading of every tenant (what `watch` last stored; no API call)."""
    from neon_tenants.monitoring import METRICS, AlertRules

    out = Output(as_json)
    readings = sorted(_store(store_dir).latest().values(), key=lambda r: (r.tier, r.tenant))
    if as_json:
        out.data([r.model_dump(mode="json") for r in readings])
        return
    if not readings:
        out.text("no readings yet: run `neon-tenants usage watch --once`")
        return
    rules = AlertRules()
    table = Table(title="tenant usage vs quota (this billing period)")
    for col in ("tenant", "tier", "project", *METRICS):
        table.add_column(col.replace("_bytes", "").replace("_seconds", ""))
    for r in readings:
        level = rules.default.level(r.worst_ratio)
        table.add_row(r.tenant, r.tier, r.project_id, *[_cell(r, m) for m in METRICS],
                      style=COLOURS.get(level or ""))  # fmt: skip
    out.console.print(table)


@monitor_app.command()
def alerts(period: str | None = PERIOD, store_dir: Path | None = STORE,
           as_json: bool = JSON) -> None:  # fmt: skip
    """Events raised in a billing period (quota lines, suspensions, cleanup notices)."""
    out = Output(as_json)
    found = _store(store_dir).events(_period(period))
    if as_json:
        out.data([e.model_dump(mode="json") for e in found])
        return
    if not found:
        out.text("no events in this period")
        return
    table = Table(title="events")
    for col in ("when", "kind", "tenant", "tier", "metric", "level", "percent"):
        table.add_column(col)
    for e in found:
        pct = "" if e.percent is None else f"{e.percent:.1f}%"
        table.add_row(e.created_at, e.kind, e.tenant, e.tier, e.metric or "", e.level or "", pct,
                      style=COLOURS.get(e.level or ""))  # fmt: skip
    out.console.print(table)


@monitor_app.command()
def export(
    period: str | None = PERIOD,
    fmt: str = typer.Option("csv", "--format", help="csv | json"),
    output: Path | None = OUTPUT,
    store_dir: Path | None = STORE,
) -> None:
    """Billing rows per tenant (tier, metric, quantity, unit price, cost) + totals per tier."""
    from neon_tenants.monitoring import fleet_directory, invoice
    from neon_tenants.monitoring.invoice import write_csv, write_json

    if fmt not in ("csv", "json"):
        raise typer.BadParameter(f"--format {fmt!r}: allowed csv, json")
    wanted = _period(period)
    out = Output(False)
    with _fleet(out) as fm:
        rows = invoice(fm.client, fleet_directory(fm)(), fm.catalog, wanted,
                       _store(store_dir).latest())  # fmt: skip
    with (output.open("w", encoding="utf-8", newline="") if output else _stdout()) as stream:
        write_csv(rows, stream) if fmt == "csv" else write_json(rows, stream, wanted)
    out.err.print(f"[dim]{len(rows)} rows[/]")


@contextmanager
def _stdout() -> Iterator[Any]:
    yield sys.stdout


def _service(fm: FleetManager, out: Output, as_json: bool, **kw: Any) -> UsageService:
    from neon_tenants.monitoring import build_service

    def show(r: Any) -> None:
        if as_json:
            out.data(r.model_dump(mode="json"))
        else:
            out.text(f"cycle: {r.readings}/{r.tenants} tenants, {r.requests_total} requests "
                     f"({r.consumption_requests} consumption, {r.project_reads} project reads), "
                     f"{r.events} events, {r.webhook_failures} webhook failures, "
                     f"{r.duration_seconds:.1f}s")  # fmt: skip

    def failed(exc: Exception) -> None:
        out.error(f"cycle failed, next one as scheduled: {exc}", kind=type(exc).__name__)

    return build_service(fm, on_cycle=show, on_error=failed, **kw)


@monitor_app.command()
def watch(
    interval: float = typer.Option(900.0, "--interval", help="seconds between cycles (>= 900)"),
    once: bool = typer.Option(False, "--once", help="run one cycle and exit"),
    cycles: int | None = typer.Option(None, "--cycles", help="stop after this many cycles"),
    rules: Path | None = RULES,
    store_dir: Path | None = STORE,
    max_reads: int = typer.Option(1500, "--max-project-reads", help="per-project reads/cycle"),
    inactive_days: float | None = INACTIVE,
    notice_days: float = NOTICE,
    as_json: bool = JSON,
) -> None:
    """Poll every fleet tenant each cycle, raise alerts once per period and deliver them
    (webhook: NEON_TENANTS_WEBHOOK_URL + _SECRET[_FILE], or NEON_TENANTS_WEBHOOK_FILE);
    with --inactive-days, give deletion notices and delete after them through the fleet."""
    from neon_tenants.monitoring import AlertRules, PollerConfig

    try:
        config = PollerConfig(interval_seconds=interval, max_project_reads=max_reads)
        alert_rules = AlertRules.load(rules)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    policy = _policy(inactive_days, notice_days)
    out = Output(as_json)
    with _fleet(out) as fm:
        from neon_tenants.monitoring.rules import check_tiers

        try:
            check_tiers(alert_rules, fm.catalog.tiers, str(rules or "rules"))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        service = _service(fm, out, as_json, config=config, rules=alert_rules,
                           store_dir=store_dir, cleanup=policy)  # fmt: skip
        try:
            service.run(cycles=1 if once else cycles)
        except KeyboardInterrupt:
            out.text("stopped")


@monitor_app.command()
def serve(
    port: int = typer.Option(9464, "--port", help="metrics port (0: any free port)"),
    addr: str = typer.Option("127.0.0.1", "--addr", help="listen address"),
    store_dir: Path | None = STORE,
    rules: Path | None = RULES,
    with_watch: bool = typer.Option(False, "--watch", help="also run the poller here"),
) -> None:
    """Prometheus metrics at /metrics from the monitoring store (optionally polling too)."""
    from neon_tenants.monitoring import AlertRules
    from neon_tenants.monitoring.metrics import serve_metrics

    try:
        alert_rules = AlertRules.load(rules)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out = Output(False)
    server, _ = serve_metrics(_store(store_dir), port, addr, alert_rules)
    out.text(f"metrics on http://{addr}:{server.server_port}/metrics")
    run: Callable[[], Any] = threading.Event().wait
    if with_watch:
        def run() -> None:
            watch(interval=900.0, once=False, cycles=None, rules=rules, store_dir=store_dir,
                  max_reads=1500, inactive_days=None, notice_days=7.0, as_json=False)
    try:
        run()
    except KeyboardInterrupt:
        out.text("stopped")
    finally:
        server.shutdown()


@monitor_app.command()
def cleanup(
    inactive_days: float = typer.Option(..., "--inactive-days", help="idle for at least N days"),
    notice_days: float = NOTICE,
    apply: bool = typer.Option(False, "--apply", help="poll, give notices, delete what is due"),
    store_dir: Path | None = STORE,
    as_json: bool = JSON,
) -> None:
    """Dry run: idle tenants (from the latest readings) and pending notices. --apply: one
    cycle with notices and deletes (through the fleet) of tenants whose notice expired."""
    from neon_tenants.monitoring.readings import parse_ts

    policy = _policy(inactive_days, notice_days)
    assert policy is not None
    out = Output(as_json)
    store = _store(store_dir)
    if apply:
        with _fleet(out) as fm:
            _service(fm, out, as_json, store_dir=store_dir, cleanup=policy).run_once()
    now = datetime.now(UTC)
    idle: list[dict[str, Any]] = [
        {"tenant": r.tenant, "tier": r.tier, "project_id": r.project_id,
         "last_active_at": r.last_active_at, "protected": r.protected,
         "inactive_days": round((now - parse_ts(r.last_active_at)).total_seconds() / 86400, 1)}
        for r in store.latest().values() if r.last_active_at
    ]  # fmt: skip
    idle = sorted((i for i in idle if float(i["inactive_days"]) >= inactive_days),
                  key=lambda i: str(i["tenant"]))  # fmt: skip
    notices = [n.model_dump(mode="json") for n in store.notices().values()]
    if as_json:
        out.data({"dry_run": not apply, "inactive": idle, "notices": notices})
        return
    table = Table(title=("DRY RUN: " if not apply else "") + "inactive tenants and notices")
    for col in ("tenant", "tier", "idle days", "protected", "notice", "delete after"):
        table.add_column(col)
    by_notice = {n["tenant"]: n for n in notices}
    for i in idle:
        n = by_notice.get(str(i["tenant"]), {})
        table.add_row(str(i["tenant"]), str(i["tier"]), str(i["inactive_days"]),
                      "yes" if i["protected"] else "", n.get("status", ""),
                      n.get("delete_after", ""))  # fmt: skip
    out.console.print(table)
    if not apply:
        out.text("nothing was changed; --apply gives notices and deletes what is due")
