"""Fixtures for tests that drive the real Pulumi engine built by scripts/bootstrap.sh.

Each session gets its own file backend (a temp dir) and passphrase, and keeps the
bootstrap's PULUMI_HOME, where the plugins live. A missing engine fails with the command to
run instead of skipping: CI must not go green without ever running the engine.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from neon_tenants._env import EngineMissing, pulumi_command, pulumi_env, require_engine
from neon_tenants._settings import PULUMI_COMMAND_VERSION, paths


@dataclass(frozen=True)
class EngineEnv:
    """The engine's environment for one test session."""

    env: dict[str, str]
    pulumi: Path
    backend_dir: Path

    def run(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the CLI the way a user would (non-interactive), capturing its output."""
        res = subprocess.run(
            [str(self.pulumi), *args, "--non-interactive"],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
        return res


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> EngineEnv:
    import os

    try:
        pulumi = require_engine()
    except EngineMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    backend = tmp_path_factory.mktemp("pulumi-state")
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PULUMI_") or k in ("PULUMI_HOME", "PULUMI_PYTHON_CMD")
    }
    base["PULUMI_BACKEND_URL"] = f"file://{backend}"
    base["PULUMI_CONFIG_PASSPHRASE"] = "engine-tests"
    env = {**base, **pulumi_env(repo_root, base)}
    return EngineEnv(env=env, pulumi=pulumi, backend_dir=backend)


@pytest.fixture(scope="session")
def automation_command(engine_env: EngineEnv) -> object:
    """A PulumiCommand on our engine (never `PulumiCommand.install()`)."""
    return pulumi_command()


@pytest.fixture(scope="session")
def command_plugin(engine_env: EngineEnv) -> Path:
    """The pulumi-command plugin the bootstrap installs (required: fails, never skips)."""
    home = Path(engine_env.env.get("PULUMI_HOME") or paths().pulumi_home)
    binary = home / "plugins" / f"resource-command-v{PULUMI_COMMAND_VERSION}"
    binary = binary / "pulumi-resource-command"
    if not binary.is_file():
        pytest.fail(f"{binary} missing: run `make setup` (scripts/bootstrap.sh)", pytrace=False)
    return binary


@pytest.fixture
def marker_dir(tmp_path: Path) -> Iterator[Path]:
    """Where the self-test provider writes its files (one per resource)."""
    d = tmp_path / "markers"
    d.mkdir()
    yield d
