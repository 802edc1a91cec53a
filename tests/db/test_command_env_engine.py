"""Tenant-facing commands never see the platform's secrets (PostgreSQL mode).

The engine gets the platform database's password as PGPASSWORD (its state backend), and the
worker has NEON_TENANTS_DATABASE_URL, the stacks' passphrase and the Neon keys; pulumi-command
runs a Command with that environment. A migration (real engine + plugin, state in a real
PostgreSQL 15) and an archive command see their tenant's connection string only.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from neon_tenants._command_env import PLATFORM_SECRET_ENV
from neon_tenants.db import DatabaseUrl

pytestmark = pytest.mark.engine

TENANT_URI = "postgresql://tenant:t3nant-pw@tenant.example:5432/app?sslmode=require"
NEON_KEY = "napi_platform_key_never_in_a_command"


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def test_a_migration_command_does_not_see_the_platform_database_credentials(
    db_url: str, pg_server: Any, tmp_path: Path
) -> None:
    from pulumi import automation as auto

    from neon_tenants._env import pulumi_command, pulumi_env
    from neon_tenants.migrate import MigrationSpec, migration_command

    backend, secret = DatabaseUrl.parse(db_url).pulumi_backend()
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("PULUMI_") or k in ("PULUMI_HOME", "PULUMI_PYTHON_CMD")}
    base.update({
        "PULUMI_BACKEND_URL": backend, **secret,
        "PULUMI_CONFIG_PASSPHRASE": "team-secret-from-a-vault",
        "NEON_TENANTS_DATABASE_URL": db_url, "NEON_API_KEY": NEON_KEY,
    })
    env = {**base, **pulumi_env(Path(__file__).resolve().parents[2], base)}
    seen = tmp_path / "env.txt"

    def program() -> None:
        import pulumi

        parent = pulumi.ComponentResource("test:index:Tenant", "t1")
        migration_command(
            "t1-migrate", tenant="t1", spec=MigrationSpec(revision="r1", command=f"env > {seen}"),
            connection_uri=TENANT_URI, parent=parent, depends_on=[],
        )

    stack = auto.create_stack(
        stack_name=f"cmdenv{uuid.uuid4().hex[:8]}", project_name="command-env", program=program,
        opts=auto.LocalWorkspaceOptions(
            env_vars=env, pulumi_command=pulumi_command(),
            project_settings=auto.ProjectSettings(name="command-env", runtime="python"),
        ),
    )
    try:
        stack.up(on_output=lambda _line: None)
        got = _env_file(seen)
        text = seen.read_text()
    finally:
        stack.destroy(on_output=lambda _line: None)
        stack.workspace.remove_stack(stack.name)
    assert got["DATABASE_URL"] == TENANT_URI and got["NEON_TENANTS_TENANT"] == "t1"
    assert not set(PLATFORM_SECRET_ENV) & set(got), sorted(set(PLATFORM_SECRET_ENV) & set(got))
    assert pg_server.password not in text and NEON_KEY not in text
    assert "team-secret-from-a-vault" not in text


def test_an_archive_command_does_not_see_the_platform_database_credentials(
    db_url: str, pg_server: Any, tmp_path: Path
) -> None:
    from neon_tenants.archive.dump import take_archive

    seen = tmp_path / "env.txt"
    environ = {
        **os.environ,
        "PGPASSWORD": pg_server.password, "NEON_TENANTS_DATABASE_URL": db_url,
        "NEON_API_KEY": NEON_KEY, "PULUMI_CONFIG_PASSPHRASE": "team-secret-from-a-vault",
        "NEON_TENANTS_ARCHIVE_URI": TENANT_URI, "NEON_TENANTS_ARCHIVE_DIR": str(tmp_path / "a"),
        "NEON_TENANTS_TENANT": "t1", "NEON_TENANTS_TIER": "free",
        "NEON_TENANTS_PROJECT_ID": "p-1",
        "NEON_TENANTS_ARCHIVE_COMMAND": f'env > {seen}; : > "$NEON_TENANTS_ARCHIVE_FILE"',
    }
    take_archive(environ)
    got = _env_file(seen)
    assert got["PGPASSWORD"] == "t3nant-pw" and got["NEON_TENANTS_ARCHIVE_URI"] == TENANT_URI
    assert not ({"NEON_TENANTS_DATABASE_URL", "NEON_API_KEY", "PULUMI_CONFIG_PASSPHRASE"}
                & set(got))
    assert pg_server.password not in seen.read_text() and NEON_KEY not in seen.read_text()


def test_an_operation_error_is_stored_without_the_platform_database_password(
    migrated_url: str, pg_server: Any
) -> None:
    from neon_tenants.automation._errors import DeploymentFailed
    from neon_tenants.jobs._ops import OperationStore

    ops = OperationStore(migrated_url)
    try:
        op = ops.create("t1", "free", "free", "snapshot", {})
        pw = pg_server.password
        ops.fail(op.id, DeploymentFailed(f"backend said: PGPASSWORD={pw} refused ({pw})",
                                         stack=f"free {pw}"))
        stored = ops.get(op.id)
        done = ops.create("t2", "free", "free", "rollout", {})
        ops.finish(done.id, {"failures": {"t2": f"psql: password {pw} refused"}})
        result = ops.get(done.id)
    finally:
        ops.close()
    assert stored is not None and stored.error is not None
    assert "refused" in stored.error and pw not in stored.error
    assert pw not in repr(stored.error_details)
    assert result is not None and "refused" in repr(result.result)
    assert pw not in repr(result.result)
