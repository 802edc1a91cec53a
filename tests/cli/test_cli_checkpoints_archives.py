"""`neon-tenants tenant checkpoint|checkpoints|rollback|delete|archives|restore-archive` and
`rollout` through the CLI, the real engine, the command plugin and the real-Postgres emulator
(issue 12): what a platform operator types, with --json a script can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from neon_tenants.cli.app import app
from neon_tenants.fleet import FleetSpec, save_fleet

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]

runner = CliRunner()


@pytest.fixture
def pg_cli(tmp_path: Path, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    stacks = tmp_path / "stacks"
    save_fleet(stacks / "fleets" / "pro.yaml", FleetSpec(tier="pro"))
    (tmp_path / "state").mkdir()
    monkeypatch.setenv("NEON_TENANTS_STACKS_DIR", str(stacks))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'state'}")
    for key, value in emulator.client_env.items():
        monkeypatch.setenv(key, value)
    return tmp_path


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _uri(tenant: str) -> str:
    from neon_tenants.cli._context import fleet_manager

    with fleet_manager() as fm:
        return fm.show(tenant).connection_uri.get_secret_value()


def _bodies(uri: str) -> list[str]:
    with psycopg.connect(uri, autocommit=True) as db:
        return [r[0] for r in db.execute("select body from notes order by body")]


def test_checkpoint_rollback_delete_and_restore_archive_through_the_cli(pg_cli: Path) -> None:
    _json(["tenant", "provision", "cli-cp", "--tier", "pro"])
    uri = _uri("cli-cp")
    with psycopg.connect(uri, autocommit=True) as db:
        db.execute("create table notes (body text)")
        db.execute("insert into notes values ('A')")

    cp = _json(["tenant", "checkpoint", "cli-cp", "run-1", "--app-revision", "v3",
                "--meta", "agent=planner", "--meta", "step=2"])
    assert (cp["label"], cp["app_revision"], cp["metadata"]) == (
        "run-1", "v3", {"agent": "planner", "step": "2"})
    with psycopg.connect(uri, autocommit=True) as db:
        db.execute("insert into notes values ('B')")
    listed = _json(["tenant", "checkpoints", "cli-cp"])["checkpoints"]
    assert [c["label"] for c in listed] == ["run-1"]

    back = _json(["tenant", "rollback", "cli-cp", "run-1"])
    assert (back["app_revision"], back["metadata"]) == ("v3", {"agent": "planner", "step": "2"})
    assert ":****@" in back["connection"]["connection_uri"]  # masked in the output
    assert _bodies(_uri("cli-cp")) == ["A"]

    _json(["tenant", "delete", "cli-cp"])
    [manifest] = _json(["tenant", "archives", "cli-cp"])["manifests"]
    assert Path(manifest).is_relative_to(pg_cli / ".state" / "archive" / "cli-cp")
    restored = _json(["tenant", "restore-archive", manifest, "--as", "cli-cp2"])
    assert restored["tenant"] == "cli-cp2" and restored["tier"] == "pro"
    assert _bodies(_uri("cli-cp2")) == ["A"]

    bad = runner.invoke(app, ["tenant", "checkpoint", "cli-cp2", "Bad Label", "--json"])
    assert bad.exit_code == 1 and "checkpoint label" in json.loads(bad.stdout)["error"]
    no_cmd = runner.invoke(app, ["rollout", "--tier", "pro", "--revision", "r2", "--json"])
    assert no_cmd.exit_code == 1 and "migration_command" in json.loads(no_cmd.stdout)["error"]
    zero = runner.invoke(app, ["rollout", "--tier", "pro", "--revision", "r2", "--batch", "0",
                               "--json"])
    assert zero.exit_code == 1 and "batch must be >= 1" in json.loads(zero.stdout)["error"]
