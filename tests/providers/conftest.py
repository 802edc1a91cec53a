"""Fixtures for the provider tests that drive the real engine against the emulator.

One stack per test module (module-scoped, always destroyed), a temp file backend, and the
emulator's URL and credentials file passed to the engine (and so to the dynamic-provider
process) through `env_vars`: nothing reaches the provider through pickled state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


def _missing_prerequisite() -> str | None:
    """A precise reason when a part built by another issue is not there yet."""
    try:
        import neon_emulator.app  # noqa: F401
        import neon_emulator.testing  # noqa: F401
    except ImportError as err:
        return f"emulator not importable yet: {err}"
    from neon_tenants._env import EngineMissing, require_engine

    try:
        require_engine()
    except EngineMissing as err:
        return str(err)
    return None


@dataclass
class EngineStack:
    """A stack over an inline program whose TenantDatabaseArgs tests may swap."""

    stack: Any
    env: dict[str, str]
    backend_dir: Path
    emulator: Any
    holder: dict[str, Any] = field(default_factory=dict)

    def client(self) -> Any:
        from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

        creds = NeonCredentials.from_file(self.emulator.credentials_file)
        return NeonClient(creds, ClientConfig(base_url=self.emulator.base_url))


def engine_env_for(emulator: Any, backend: Path) -> dict[str, str]:
    from neon_tenants._env import pulumi_env

    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("PULUMI_", "NEON_")) or k in ("PULUMI_HOME",)}
    base["PULUMI_BACKEND_URL"] = f"file://{backend}"
    base["PULUMI_CONFIG_PASSPHRASE"] = "provider-tests"
    return {**base, **pulumi_env(None, base), **emulator.client_env}


@pytest.fixture(scope="module")
def engine_stack_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[Callable[[dict[str, Any]], None], dict[str, Any]], EngineStack]]:
    """Makes stacks for this module; every one is destroyed and removed at teardown."""
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    from pulumi import automation as auto

    from neon_tenants._env import pulumi_command

    # A module sets EMULATOR_FIXTURE = "emulator" for real PostgreSQL 15 behind branches;
    # the default metadata backend keeps 2-core CI light where Postgres proves nothing.
    which = getattr(request.module, "EMULATOR_FIXTURE", "metadata_emulator")
    emulator = request.getfixturevalue(which)
    backend = tmp_path_factory.mktemp("provider-state")
    env = engine_env_for(emulator, backend)
    made: list[EngineStack] = []

    def make(build: Callable[[dict[str, Any]], None], holder: dict[str, Any]) -> EngineStack:
        project = "neon-provider-tests"

        def program() -> None:
            build(holder)

        stack = auto.create_or_select_stack(
            stack_name=f"s{uuid.uuid4().hex[:8]}", project_name=project, program=program,
            opts=auto.LocalWorkspaceOptions(
                env_vars=env, pulumi_command=pulumi_command(),
                project_settings=auto.ProjectSettings(name=project, runtime="python"),
            ),
        )
        es = EngineStack(stack=stack, env=env, backend_dir=backend, emulator=emulator,
                         holder=holder)
        made.append(es)
        return es

    yield make
    for es in made:
        try:
            es.stack.destroy(on_output=lambda _line: None)
        finally:
            es.stack.workspace.remove_stack(es.stack.name)


@dataclass(frozen=True)
class CliEnv:
    """Run the real `pulumi` CLI against the emulator, the way an infra team would."""

    env: dict[str, str]
    pulumi: Path
    emulator: Any

    def run(self, *args: str, cwd: Path, check: bool = True) -> Any:
        import subprocess

        res = subprocess.run([str(self.pulumi), *args, "--non-interactive"], cwd=cwd,
                             env=self.env, capture_output=True, text=True, timeout=300)
        if check and res.returncode != 0:
            raise AssertionError(f"pulumi {args[0]} exited {res.returncode}\n{res.stdout}\n"
                                 f"{res.stderr}")
        return res


@pytest.fixture(scope="module")
def cli_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> CliEnv:
    reason = _missing_prerequisite()
    if reason:
        pytest.skip(reason)
    from neon_tenants._env import require_engine

    emulator = request.getfixturevalue("metadata_emulator")
    env = engine_env_for(emulator, tmp_path_factory.mktemp("cli-state"))
    return CliEnv(env=env, pulumi=require_engine(), emulator=emulator)
