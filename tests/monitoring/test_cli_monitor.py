"""`usage report|alerts|cleanup|serve` through typer's runner on a store the service filled
against the emulator (watch and export need the fleet: test_cleanup_fleet.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from neon_tenants.cli.monitor_cmds import monitor_app
from neon_tenants.monitoring import CallbackSink, Event, TenantRef

from .conftest import MakeProject
from .test_watch_emulator import build, set_usage

runner = CliRunner()


def filled_store(emulator: Any, make_project: MakeProject, prefix: str, root: Path) -> TenantRef:
    made = make_project("cli", active_time_seconds=3600)
    ref = TenantRef(tenant=f"{prefix}-cli", tier="free", project_id=made.project.id, org="free")
    set_usage(emulator, ref.project_id, active_time_seconds=3000,
              compute_last_active_at="2026-01-01T00:00:00Z")
    got: list[Event] = []
    build(emulator, root, [ref], [CallbackSink(got.append)]).run_once()
    assert len(got) == 1
    return ref


def test_report_and_alerts_read_the_store(
    metadata_emulator: Any, make_project: MakeProject, prefix: str, tmp_path: Path
) -> None:
    ref = filled_store(metadata_emulator, make_project, prefix, tmp_path)
    result = runner.invoke(monitor_app, ["report", "--store", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert (row["tenant"], row["tier"], row["used"]["active_time_seconds"]) == (
        ref.tenant, "free", 3000)
    assert row["limits"]["active_time_seconds"] == 3600
    table = runner.invoke(monitor_app, ["report", "--store", str(tmp_path)],
                          env={"COLUMNS": "250"})
    assert ref.tenant in table.stdout and "83%" in table.stdout

    result = runner.invoke(monitor_app, ["alerts", "--store", str(tmp_path), "--json"])
    (event,) = json.loads(result.stdout)
    assert (event["tenant"], event["metric"], event["level"]) == (
        ref.tenant, "active_time_seconds", "warning")
    empty = runner.invoke(monitor_app, ["alerts", "--store", str(tmp_path), "--period",
                                        "2020-01"])
    assert "no events" in empty.stdout
    bad = runner.invoke(monitor_app, ["alerts", "--store", str(tmp_path), "--period", "May"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_cleanup_dry_run_lists_idle_tenants_and_changes_nothing(
    metadata_emulator: Any, make_project: MakeProject, prefix: str, tmp_path: Path
) -> None:
    ref = filled_store(metadata_emulator, make_project, prefix, tmp_path)
    result = runner.invoke(monitor_app, ["cleanup", "--inactive-days", "30", "--store",
                                         str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["dry_run"] is True and body["notices"] == []
    assert [i["tenant"] for i in body["inactive"]] == [ref.tenant]
    assert not (tmp_path / "notices.json").exists()
    bad = runner.invoke(monitor_app, ["cleanup", "--inactive-days", "0", "--store",
                                      str(tmp_path)])
    assert bad.exit_code == 2 and "--inactive-days" in bad.output


def test_report_on_an_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    result = runner.invoke(monitor_app, ["report", "--store", str(tmp_path)])
    assert result.exit_code == 0 and "usage watch --once" in result.stdout


def test_watch_refuses_an_interval_below_15_minutes(tmp_path: Path) -> None:
    result = runner.invoke(monitor_app, ["watch", "--interval", "60", "--store", str(tmp_path)])
    assert result.exit_code == 2 and "900" in result.output
