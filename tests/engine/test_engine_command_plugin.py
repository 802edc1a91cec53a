"""pulumi_command.local.Command through the real engine and the plugin the bootstrap installs.

The plugin is built from the vendored release sources (../shared/vendor) where its Go modules
are not served; it is required, so a missing plugin fails here instead of skipping. The test
covers exactly what issue 12 builds on: stdout, a secret environment variable that stays out
of the state in plaintext, a trigger that reruns the command, and `delete` running on destroy.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine

SECRET = "s3cr3t-value-never-in-state"


def test_local_command_runs_create_trigger_and_delete_with_a_secret_env(
    engine_env: Any, automation_command: Any, command_plugin: Path, tmp_path: Path
) -> None:
    from pulumi import automation as auto

    log = tmp_path / "runs.log"
    trigger = {"value": "r1"}

    def program() -> None:
        import pulumi
        from pulumi_command import local

        cmd = local.Command(
            "echo",
            create=f'echo "create $REV" >> {log}; printf %s "$TOKEN" | wc -c',
            delete=f'echo "delete $REV" >> {log}',
            environment={"TOKEN": pulumi.Output.secret(SECRET), "REV": trigger["value"]},
            triggers=[trigger["value"]],
        )
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
    quiet: dict[str, Any] = {"on_output": lambda _line: None}
    try:
        up = stack.up(**quiet)
        assert up.outputs["stdout"].value == str(len(SECRET))
        stack.up(**quiet)  # unchanged: the command does not run again
        assert log.read_text().splitlines() == ["create r1"]
        # the state file itself (export_stack would decrypt: it passes --show-secrets)
        files = list(engine_env.backend_dir.rglob(f"{stack.name}.json"))
        assert files and all(SECRET not in f.read_text() for f in files)
        assert "ciphertext" in files[0].read_text()
        trigger["value"] = "r2"  # a new trigger replaces: delete the old, create the new
        stack.up(**quiet)
        assert sorted(log.read_text().splitlines()) == ["create r1", "create r2", "delete r1"]
    finally:
        stack.destroy(**quiet)
        stack.workspace.remove_stack(stack.name)
    assert log.read_text().splitlines()[-1] == "delete r2"
