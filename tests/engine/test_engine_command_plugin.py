"""pulumi_command.local.Command through the real engine, when its plugin is installed.

The plugin is built from github.com/pulumi/pulumi-command/provider, which the Go proxy here
does not serve; the bootstrap then skips it and so does this test (with that reason). On a
machine where the plugin is installed, the test runs for real.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.engine


def test_local_command_runs_and_reports_stdout(
    engine_env: Any, automation_command: Any, command_plugin: None
) -> None:
    from pulumi import automation as auto

    def program() -> None:
        import pulumi
        from pulumi_command import local

        cmd = local.Command("echo", create="echo hello-from-command")
        pulumi.export("stdout", cmd.stdout)

    stack = auto.create_stack(
        stack_name=f"cmd{uuid.uuid4().hex[:8]}",
        project_name="engine-command",
        program=program,
        opts=auto.LocalWorkspaceOptions(
            env_vars=engine_env.env,
            pulumi_command=automation_command,
            project_settings=auto.ProjectSettings(name="engine-command", runtime="python"),
        ),
    )
    try:
        up = stack.up(on_output=lambda _line: None)
        assert up.outputs["stdout"].value == "hello-from-command"
    finally:
        stack.destroy(on_output=lambda _line: None)
        stack.workspace.remove_stack(stack.name)
