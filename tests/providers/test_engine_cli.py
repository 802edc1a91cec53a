"""`pulumi up` from a Pulumi.yaml project (not the Automation API) drives the providers too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PROGRAM = """\
import pulumi
from neon_tenants.catalog import builtin_catalog
from neon_tenants.providers import TenantDatabase, TenantDatabaseArgs

args = TenantDatabaseArgs(tenant_id="clitenant", platform="cli",
                          tier=builtin_catalog().tier("free"))
db = TenantDatabase("clitenant", args)
pulumi.export("project_id", db.project.project_id)
pulumi.export("connection_uri", db.connection_uri)
"""


@pytest.fixture
def project(tmp_path: Path, repo_root: Path, cli_env: Any) -> Any:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "Pulumi.yaml").write_text(
        "name: provider-cli-test\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\n"
    )
    (proj / "__main__.py").write_text(PROGRAM)
    cli_env.run("stack", "init", "cli", cwd=proj)
    yield proj
    cli_env.run("destroy", "--yes", "--stack", "cli", cwd=proj, check=False)
    cli_env.run("stack", "rm", "--yes", "--force", "--stack", "cli", cwd=proj, check=False)


def test_cli_up_then_preview_expects_no_changes_then_destroy(project: Path, cli_env: Any) -> None:
    cli_env.run("up", "--yes", "--skip-preview", "--stack", "cli", cwd=project)
    cli_env.run("preview", "--expect-no-changes", "--stack", "cli", cwd=project)
    outs = json.loads(cli_env.run("stack", "output", "--json", "--stack", "cli",
                                  cwd=project).stdout)
    assert outs["connection_uri"] == "[secret]"
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    creds = NeonCredentials.from_file(cli_env.emulator.credentials_file)
    with NeonClient(creds, ClientConfig(base_url=cli_env.emulator.base_url)) as client:
        assert client.org("free").get_project(outs["project_id"]).name == "cli-clitenant"
        cli_env.run("destroy", "--yes", "--stack", "cli", cwd=project)
        assert client.org("free").find_project_by_name("cli-clitenant") is None
