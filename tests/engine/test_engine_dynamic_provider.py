"""The real engine runs an inline program whose dynamic provider lives in the installed package.

Proves the whole chain the providers rely on: Automation API -> our CLI build ->
pulumi-resource-pulumi-python -> the venv's python -> neon_tenants._selftest, and that the
provider is pickled by reference (small blob, today's code on refresh/destroy).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine

PROJECT = "engine-selftest"
MARKER_TYPE = "pulumi-python:dynamic/selftest:FileMarker"


def _program(directory: Path, content: str) -> Any:
    def program() -> None:
        import pulumi

        from neon_tenants._selftest import FileMarker

        marker = FileMarker("first", directory=str(directory), content=content)
        pulumi.export("path", marker.path)
        pulumi.export("content", marker.content)

    return program


@pytest.fixture
def stack_factory(engine_env: Any, automation_command: Any) -> Iterator[Any]:
    """Creates inline-program stacks; always destroys and removes them in teardown."""
    from pulumi import automation as auto

    made: list[Any] = []

    def make(program: Any) -> Any:
        stack = auto.create_stack(
            stack_name=f"t{uuid.uuid4().hex[:8]}",
            project_name=PROJECT,
            program=program,
            opts=auto.LocalWorkspaceOptions(
                env_vars=engine_env.env,
                pulumi_command=automation_command,
                project_settings=auto.ProjectSettings(name=PROJECT, runtime="python"),
            ),
        )
        made.append(stack)
        return stack

    yield make
    for stack in made:
        try:
            stack.destroy(on_output=lambda _line: None)
        finally:
            stack.workspace.remove_stack(stack.name)


def _markers(stack: Any) -> list[dict[str, Any]]:
    resources = stack.export_stack().deployment.get("resources") or []
    return [r for r in resources if r["type"] == MARKER_TYPE]


def test_inline_dynamic_resource_up_preview_refresh_destroy(
    stack_factory: Any, marker_dir: Path
) -> None:
    stack = stack_factory(_program(marker_dir, "v1"))

    up = stack.up(on_output=lambda _line: None)
    path = Path(up.outputs["path"].value)
    assert path == marker_dir / "first"
    assert path.read_text() == "v1"
    assert up.outputs["content"].value == "v1"
    assert up.summary.resource_changes == {"create": 2}

    preview = stack.preview(on_output=lambda _line: None)
    assert set(preview.change_summary) == {"same"}, preview.change_summary

    path.write_text("drifted")  # out-of-band change: refresh must read it back
    stack.refresh(on_output=lambda _line: None)
    (marker,) = _markers(stack)
    assert marker["outputs"]["content"] == "drifted"

    stack.destroy(on_output=lambda _line: None)
    assert not path.exists()
    assert _markers(stack) == []


def test_changed_input_is_an_update_then_noop(stack_factory: Any, marker_dir: Path) -> None:
    stack = stack_factory(_program(marker_dir, "v1"))
    stack.up(on_output=lambda _line: None)

    stack.workspace.program = _program(marker_dir, "v2")
    preview = stack.preview(on_output=lambda _line: None)
    assert preview.change_summary.get("update") == 1, preview.change_summary

    up = stack.up(on_output=lambda _line: None)
    assert (marker_dir / "first").read_text() == "v2"
    assert up.summary.resource_changes == {"same": 1, "update": 1}


def test_provider_is_pickled_by_reference_and_small(stack_factory: Any, marker_dir: Path) -> None:
    stack = stack_factory(_program(marker_dir, "v1"))
    stack.up(on_output=lambda _line: None)

    (marker,) = _markers(stack)
    blob = marker["outputs"]["__provider"]
    assert isinstance(blob, str), "the self-test provider captures no secret: blob stays plain"
    raw = base64.b64decode(blob)
    print(f"\npickled __provider blob: {len(blob)} bytes base64 ({len(raw)} raw)")

    assert len(blob) < 4096
    assert b"neon_tenants._selftest" in raw and b"FileMarkerProvider" in raw
    # dill pickles a class *by value* with _create_type / code objects: it must not here.
    assert b"_create_type" not in raw and b"_create_code" not in raw
