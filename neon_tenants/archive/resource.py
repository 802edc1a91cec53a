"""The archive-before-delete resource: a `command.local.Command` with only a `delete` (issue 12).

Pulumi deletes dependents before what they depend on. The Command depends on the tenant's
project and on every other child (quota, dev branches, snapshots), so on a delete (the tenant
left the fleet, or `destroy`) it is the first thing the engine deletes: its `delete` runs the
archive (`python -m neon_tenants.archive`), and a non-zero exit stops the engine before it
touches anything else of the tenant. No `create`/`update` command: adding the resource or
changing its inputs (a tier move, a new password) runs nothing, and it has no triggers, so
it is never replaced (a replace would run the archive).

The connection string is a secret environment variable: encrypted in the state's inputs, and
the archive step never prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from neon_tenants.archive.dump import (
    COMMAND_ENV,
    DIR_ENV,
    PROJECT_ENV,
    TENANT_ENV,
    TIER_ENV,
    URI_ENV,
)

if TYPE_CHECKING:
    import pulumi

ARCHIVE_STEP = '"${PULUMI_PYTHON_CMD:-python3}" -m neon_tenants.archive'
"""The venv's python (PULUMI_PYTHON_CMD is set for every engine process by _env/env.sh)."""


class ArchiveSettings(BaseModel):
    """Where archives go and, optionally, the command that writes one (default: pg_dump)."""

    model_config = ConfigDict(frozen=True)

    dir: Path
    command: str | None = None


ARCHIVE_SWITCH_ENV = "NEON_TENANTS_ARCHIVE"


def settings_from_env(work_dir: Path, environ: Mapping[str, str]) -> ArchiveSettings | None:
    """The default: archive into `<work_dir>/.state/archive` with pg_dump;
    NEON_TENANTS_ARCHIVE_DIR / NEON_TENANTS_ARCHIVE_COMMAND change where and how, and
    NEON_TENANTS_ARCHIVE=off declares no archive step (e.g. a metadata-only emulator)."""
    if environ.get(ARCHIVE_SWITCH_ENV, "").lower() in ("off", "0", "false", "no"):
        return None
    folder = environ.get(DIR_ENV) or str(work_dir / ".state" / "archive")
    return ArchiveSettings(dir=Path(folder), command=environ.get(COMMAND_ENV) or None)


class ArchiveDirRequired(ValueError):
    """A PostgreSQL-mode worker with archives on and no shared NEON_TENANTS_ARCHIVE_DIR."""


def require_shared_dir(environ: Mapping[str, str]) -> None:
    """Workers on many hosts run one tier's deletes and archive restores: each would archive
    to its own host's `<work_dir>/.state/archive` by default, so a tenant's archive would
    land on whichever host ran its delete. Archives on => the directory must be named."""
    if environ.get(ARCHIVE_SWITCH_ENV, "").lower() in ("off", "0", "false", "no"):
        return
    if not environ.get(DIR_ENV, "").strip():
        raise ArchiveDirRequired(
            f"set {DIR_ENV} to a directory every worker shares (all hosts), or "
            f"{ARCHIVE_SWITCH_ENV}=off: a PostgreSQL-mode worker will not archive to its own "
            "host's work dir"
        )


def archive_inputs(
    *, tenant: str, tier: str, project_id: Any, connection_uri: Any, settings: ArchiveSettings
) -> dict[str, Any]:
    """The Command's inputs (plain values or Outputs): also what the no-change preview
    compares with the state (automation/_nochange.py)."""
    env: dict[str, Any] = {
        URI_ENV: connection_uri,
        DIR_ENV: str(settings.dir.resolve()),
        TENANT_ENV: tenant,
        TIER_ENV: tier,
        PROJECT_ENV: project_id,
    }
    if settings.command:
        env[COMMAND_ENV] = settings.command
    return {"delete": ARCHIVE_STEP, "environment": env}


def archive_before_delete(
    name: str,
    *,
    tenant: str,
    tier: str,
    project_id: pulumi.Input[str],
    connection_uri: pulumi.Input[str],
    settings: ArchiveSettings,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> Any:
    import pulumi

    from neon_tenants._local_command import Command

    inputs = archive_inputs(tenant=tenant, tier=tier, project_id=project_id,
                            connection_uri=pulumi.Output.secret(connection_uri),
                            settings=settings)
    return Command(
        name,
        delete=inputs["delete"],
        environment=inputs["environment"],
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=depends_on,
            additional_secret_outputs=["stdout", "stderr"],  # recorded in plain text otherwise
        ),
    )
