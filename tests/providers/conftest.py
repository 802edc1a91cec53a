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
    return {**base, **pulumi_env(None, base), "NEON_API_BASE_URL": emulator.base_url,
            "NEON_CREDENTIALS_FILE": str(emulator.credentials_file)}


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

    # The metadata backend: these tests prove the provider/engine chain, not Postgres, and
    # it keeps 2-core CI light. NEON_TENANTS_PROVIDER_TESTS_COMPUTE=postgres uses real PG 15.
    which = ("emulator" if os.environ.get("NEON_TENANTS_PROVIDER_TESTS_COMPUTE") == "postgres"
             else "metadata_emulator")
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
