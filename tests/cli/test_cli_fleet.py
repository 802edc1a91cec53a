"""The `neon-tenants` fleet commands: --json output, exit codes, errors a script can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neon_tenants.cli.app import app
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

runner = CliRunner()


def test_destroy_requires_confirmation() -> None:
    result = runner.invoke(app, ["destroy", "--tier", "free", "--json"])
    assert result.exit_code == 1
    assert "pass --yes" in json.loads(result.stdout)["error"]


def test_doctor_and_emulator_commands_are_still_registered() -> None:
    for cmd in ("doctor", "demo", "up", "preview", "destroy", "emulator", "tenant"):
        result = runner.invoke(app, [cmd, "--help"])
        assert result.exit_code == 0, (cmd, result.output)
    serve = runner.invoke(app, ["emulator", "serve", "--help"])
    assert serve.exit_code == 0 and "--data-dir" in serve.stdout


@pytest.fixture
def cli_env(tmp_path: Path, metadata_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    stacks = tmp_path / "stacks"
    save_fleet(
        stacks / "fleets" / "free.yaml", FleetSpec(tier="free", tenants=(TenantSpec(id="cli-a"),))
    )
    (tmp_path / "state").mkdir()
    monkeypatch.setenv("NEON_TENANTS_STACKS_DIR", str(stacks))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'state'}")
    monkeypatch.setenv("NEON_API_BASE_URL", metadata_emulator.base_url)
    monkeypatch.setenv("NEON_CREDENTIALS_FILE", str(metadata_emulator.credentials_file))
    return stacks


@pytest.mark.engine
@pytest.mark.slow
def test_preview_up_show_and_errors_through_the_cli(cli_env: Path) -> None:
    pending = runner.invoke(app, ["preview", "--json"])
    assert pending.exit_code == 2, pending.output
    data = json.loads(pending.stdout)
    assert [a["tenant"] for a in data["added"]] == ["cli-a"]

    md = runner.invoke(app, ["preview", "--markdown"])
    assert md.exit_code == 2 and "| added | `cli-a` | free |" in md.stdout

    up = runner.invoke(app, ["up", "--tier", "free", "--json"])
    assert up.exit_code == 0, up.output
    assert json.loads(up.stdout) == {"stacks": ["free"]}

    clean = runner.invoke(app, ["preview", "--json"])
    assert clean.exit_code == 0 and json.loads(clean.stdout)["has_changes"] is False

    show = runner.invoke(app, ["tenant", "show", "cli-a", "--json"])
    assert show.exit_code == 0, show.output
    info = json.loads(show.stdout)
    assert info["project_id"] and info["tier"] == "free"
    assert ":****@" in info["connection_uri"]
    # pooled by default, both URIs masked (issue 10 item 8)
    assert info["default_uri"] == "pooled_connection_uri"
    assert ":****@" in info["pooled_connection_uri"]
    assert info["pooled_connection_uri"] != info["connection_uri"]

    past = runner.invoke(app, ["tenant", "branch", "create", "cli-a", "old", "--at",
                               "2020-01-01T00:00:00Z", "--json"])
    assert past.exit_code == 1
    err = json.loads(past.stdout)
    assert err["status"] == 422 and "retention window" in err["error"]
    assert "tier free" in err["error"] and "86400 s" in err["error"]

    same = runner.invoke(app, ["tenant", "downgrade", "cli-a", "--tier", "free", "--json"])
    assert same.exit_code == 1
    err = json.loads(same.stdout)
    assert err["status"] == 409 and err["kind"] == "TenantConflict"

    missing = runner.invoke(app, ["tenant", "show", "nobody", "--json"])
    assert missing.exit_code == 1 and json.loads(missing.stdout)["status"] == 404

    moved = runner.invoke(app, ["tenant", "move", "cli-a", "--tier", "pro", "--json"])
    assert moved.exit_code == 0, moved.output
    data = json.loads(moved.stdout)
    assert data["moved"] == ["cli-a"] and data["transfer_requests"] == 1
    assert data["stacks"] == ["pro"]


def test_fleet_set_writes_the_fleet_file_and_refuses_bad_input_unchanged(
    cli_env: Path,
) -> None:
    """File mode: `fleet set` rewrites the tier's fleet file (what an infra team would commit)
    and touches nothing else; bad input is a 422 naming field and tier, the file unchanged."""
    from neon_tenants.fleet import load_fleet

    path = cli_env / "fleets" / "free.yaml"
    done = runner.invoke(app, ["fleet", "set", "free", "--app-revision", "r2", "--json"])
    assert done.exit_code == 0, done.output  # a revision with no command in force: allowed
    assert json.loads(done.stdout) == {"tier": "free", "app_revision": "r2",
                                       "migration_command": None, "fleet_store": "files"}
    fleet = load_fleet(path)
    assert (fleet.app_revision, fleet.migration_command) == ("r2", None)
    assert [t.id for t in fleet.tenants] == ["cli-a"] and fleet.tenants[0].app_revision is None

    text = path.read_text()
    for argv, field in ((["-r", "r 3"], "app_revision"),
                        (["--migration-command", " "], "migration_command"),
                        ([], "app_revision"),
                        # cli-a would migrate to r3 without a checkpoint (issue 12): rollout
                        (["-r", "r3", "--migration-command", "psql -f m3.sql"],
                         "app_revision"),
                        # a first command would run on cli-a (at r2) with no checkpoint
                        (["--migration-command", "psql -f migrate.sql"],
                         "migration_command")):
        bad = runner.invoke(app, ["fleet", "set", "free", *argv, "--json"])
        assert bad.exit_code == 1, bad.output
        err = json.loads(bad.stdout)
        assert err["status"] == 422 and field in err["error"] and "tier free" in err["error"]
        if argv[:2] == ["-r", "r3"]:
            assert "rollout --tier free --revision r3" in err["error"]
            assert "cli-a" in err["error"]
        if field == "migration_command" and "migrate.sql" in argv[-1]:
            assert "--migration-command" in err["error"] and "cli-a" in err["error"]
    unknown = runner.invoke(app, ["fleet", "set", "gold", "-r", "r3", "--json"])
    assert unknown.exit_code == 1 and "allowed: " in json.loads(unknown.stdout)["error"]
    assert path.read_text() == text
    assert not (cli_env.parent / "state" / ".pulumi").exists()  # no engine ran
