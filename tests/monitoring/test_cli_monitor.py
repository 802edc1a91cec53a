"""`usage report|alerts|export|cleanup` through typer's runner against the emulator."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neon_tenants.cli.monitor_cmds import monitor_app

from .conftest import MakeProject, window

runner = CliRunner()


@pytest.fixture
def env(metadata_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {**metadata_emulator.client_env, "COLUMNS": "250"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_without_credentials_points_at_the_emulator() -> None:
    result = runner.invoke(monitor_app, ["report"])
    assert result.exit_code == 2
    assert "no Neon credentials" in result.output and "emulator serve" in result.output


def test_report_json_lists_tenants_with_limits(
    env: dict[str, str], make_project: MakeProject, prefix: str
) -> None:
    made = make_project("cli", active_time_seconds=3600)
    result = runner.invoke(monitor_app, ["report", "--org", "free", "--search", prefix, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["project_id"] == made.project.id and row["org"] == "free"
    active = next(m for m in row["metrics"] if m["name"] == "active_time_seconds")
    assert active["limit"] == 3600 and active["ratio"] == 0.0


def test_report_table_and_alerts(env: dict[str, str], make_project: MakeProject,
                                 prefix: str) -> None:  # fmt: skip
    made = make_project("tbl", written_data_bytes=10)
    table = runner.invoke(monitor_app, ["report", "--search", prefix])
    assert table.exit_code == 0, table.output
    assert made.project.id in table.output and "0 h / ∞" in table.output
    alerts = runner.invoke(monitor_app, ["alerts", "--search", prefix, "--strict", "--json"])
    assert alerts.exit_code == 0 and json.loads(alerts.stdout) == []
    bad = runner.invoke(monitor_app, ["alerts", "--warning", "0.99", "--critical", "0.5"])
    assert bad.exit_code == 2


def test_export_csv_contains_the_project(
    env: dict[str, str], make_project: MakeProject, metadata_emulator: Any
) -> None:
    made = make_project("exp", "paid")
    start, end = window(metadata_emulator)
    args = ["export", "--org", "paid", "--from", start, "--to", end, "--granularity", "hourly",
            "--format", "csv", "--metrics", "compute_unit_seconds"]  # fmt: skip
    result = runner.invoke(monitor_app, args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    mine = [r for r in rows if r["project_id"] == made.project.id]
    assert len(mine) == 2 and {r["metric"] for r in mine} == {"compute_unit_seconds"}
    assert {r["project_name"] for r in mine} == {made.project.name}


def test_cleanup_defaults_to_dry_run_and_spares_fresh_projects(
    env: dict[str, str], make_project: MakeProject, prefix: str, neon: Any, tmp_path: Path
) -> None:
    made = make_project("clean")
    dry = runner.invoke(monitor_app, ["cleanup", "--inactive-days", "7", "--search", prefix,
                                      "--json"])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"dry_run": True, "results": []}
    args = ["cleanup", "--inactive-days", "7", "--search", prefix, "--apply",
            "--archive-dir", str(tmp_path)]  # fmt: skip
    applied = runner.invoke(monitor_app, args)
    assert applied.exit_code == 0, applied.output
    assert neon.org("free").get_project(made.project.id).id == made.project.id


def test_cleanup_as_of_previews_idle_tenants_but_cannot_apply(
    env: dict[str, str], make_project: MakeProject, prefix: str, metadata_emulator: Any
) -> None:
    made = make_project("later")
    now = datetime.fromisoformat(
        metadata_emulator.admin("GET", "state")["now"].replace("Z", "+00:00")
    )
    as_of = (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    args = ["cleanup", "--inactive-days", "7", "--search", prefix, "--as-of", as_of]
    preview = runner.invoke(monitor_app, [*args, "--json"])
    assert preview.exit_code == 0, preview.output
    body = json.loads(preview.stdout)
    assert body["dry_run"] is True
    assert [(r["candidate"]["project_id"], r["action"]) for r in body["results"]] == [
        (made.project.id, "would_archive_and_delete")
    ]
    refused = runner.invoke(monitor_app, [*args, "--apply"])
    assert refused.exit_code == 2 and "--as-of" in refused.output
