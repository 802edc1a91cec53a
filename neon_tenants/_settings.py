"""Where things live: tool cache, Pulumi home and state, emulator data (docs/ARCHITECTURE.md).

One frozen model so that the bootstrap's layout (scripts/env.sh) has exactly one Python twin;
`neon_tenants._env` builds the Pulumi environment from it, `neon_tenants.doctor` prints it.
Paths only: Neon credentials are read by `neon_tenants.client` (NeonCredentials.from_env).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PULUMI_VERSION = "3.274.1"
"""The pinned CLI: the newest pkg/v3 the Go proxy serves that pairs with the 3.272.0 SDK."""

PULUMI_COMMAND_VERSION = "1.2.1"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
DEFAULT_PASSPHRASE = "neon-tenants-local"
"""Only for local file-backend stacks; set PULUMI_CONFIG_PASSPHRASE[_FILE] for anything else."""

ENGINE_FILES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",  # our wrapper (pulumi/pulumi#7061), runs the next one
    "pulumi-resource-pulumi-python-sdk",
)


class Paths(BaseModel):
    """The resolved locations; build it with `paths()`."""

    model_config = ConfigDict(frozen=True)

    repo_root: Path
    cache_root: Path
    pulumi_bin: Path
    pulumi_home: Path
    state_dir: Path
    backend_url: str
    emulator_data_dir: Path
    venv: Path
    postgres_bin: Path = POSTGRES_BIN

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"


def default_repo_root() -> Path:
    """The checkout holding Pulumi.yaml: the package's parent for the editable install that
    `make setup` makes, else the current directory (a plain install has no repo)."""
    here = Path(__file__).resolve().parent.parent
    if (here / "Pulumi.yaml").is_file():
        return here
    return Path.cwd()


def paths(repo_root: Path | None = None, environ: Mapping[str, str] | None = None) -> Paths:
    """Resolve every location, honouring the overrides in ARCHITECTURE.md's table."""
    env = os.environ if environ is None else environ
    root = (repo_root or default_repo_root()).resolve()
    xdg = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    cache_root = Path(env.get("NEON_TENANTS_CACHE") or Path(xdg) / "neon-tenants")
    state_dir = root / ".state"
    return Paths(
        repo_root=root,
        cache_root=cache_root,
        pulumi_bin=cache_root / f"pulumi-v{PULUMI_VERSION}" / "bin",
        pulumi_home=Path(env.get("PULUMI_HOME") or cache_root / "pulumi-home"),
        state_dir=state_dir,
        backend_url=env.get("PULUMI_BACKEND_URL") or f"file://{state_dir / 'pulumi'}",
        emulator_data_dir=root / ".emulator",
        venv=root / ".venv",
    )
