"""A tenant's schema migration as a `command.local.Command` (issue 12).

The revision is the Command's only trigger: a new revision replaces the Command, whose create
runs the migration once; an unchanged `up` runs nothing. Changing anything else (the command
text, a rotated password, a tier move) is an in-place update, and the update command is a
no-op (`:`), so it never re-runs a migration (pulumi-command runs `create` on update when no
`update` is given). No delete command: removing a tenant or rolling a revision back runs
nothing. The connection string is the secret environment variable `DATABASE_URL` (what most
migration tools read). The provider records stdout/stderr in plain text even with a secret
input (seen in the state file), so both are declared additional secret outputs: a migration
that prints its URL leaks nothing into the state. The command runs with the platform's
secrets unset (`_command_env`: the `interpreter` is `env -u ... /bin/sh -c`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

from neon_tenants._command_env import shell_without_platform_secrets
from neon_tenants.checkpoint import check_revision

if TYPE_CHECKING:
    import pulumi

URL_ENV = "DATABASE_URL"
REVISION_ENV = "NEON_TENANTS_APP_REVISION"
TENANT_ENV = "NEON_TENANTS_TENANT"
MIGRATE_SUFFIX = "-migrate"
SECRET_OUTPUTS = ["stdout", "stderr"]


class MigrationSpec(BaseModel):
    """What a tenant runs: the app revision it is at and the command that migrates to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    revision: str
    command: str

    @field_validator("revision")
    @classmethod
    def _revision_shape(cls, value: str) -> str:
        check_revision(value)
        return value


def migration_inputs(*, tenant: str, spec: MigrationSpec, connection_uri: Any) -> dict[str, Any]:
    """The Command's inputs (plain values or Outputs): also what the no-change preview
    compares with the state (automation/_nochange.py, issue #16)."""
    return {
        "create": spec.command,
        "update": ":",
        "environment": {URL_ENV: connection_uri, REVISION_ENV: spec.revision,
                        TENANT_ENV: tenant},
        "triggers": [spec.revision],
        # the user's command never sees the platform's database password, URL or keys
        "interpreter": shell_without_platform_secrets(),
    }


def migration_command(
    name: str,
    *,
    tenant: str,
    spec: MigrationSpec,
    connection_uri: pulumi.Input[str],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> Any:
    import pulumi

    from neon_tenants._local_command import Command

    inputs = migration_inputs(tenant=tenant, spec=spec,
                              connection_uri=pulumi.Output.secret(connection_uri))
    return Command(
        name,
        create=inputs["create"],
        update=inputs["update"],
        environment=inputs["environment"],
        triggers=inputs["triggers"],
        interpreter=inputs["interpreter"],
        # the provider records stdout/stderr in plain text: a migration may print its URL
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=depends_on, additional_secret_outputs=SECRET_OUTPUTS
        ),
    )
