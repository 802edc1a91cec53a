"""The offline Pulumi environment, for the Automation API layer and the tests.

The Python twin of scripts/env.sh (keep them in step). The engine here is built from Go
modules by scripts/bootstrap.sh, there is no Pulumi Cloud and no plugin download, so every
engine process needs: our bin dir on PATH, PULUMI_HOME with the local plugins, a file
backend, a passphrase, and the two "stay offline" flags. `PulumiCommand.install()` would
download the CLI: never call it; use `pulumi_command()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from neon_tenants._settings import (
    DEFAULT_PASSPHRASE,
    ENGINE_FILES,
    PULUMI_VERSION,
    Paths,
    paths,
)

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand


class EngineMissing(RuntimeError):
    """The pinned Pulumi engine is not installed; the message says how to get it."""


class SharedBackendSecrets(RuntimeError):
    """A shared (non-file) Pulumi backend with the built-in local passphrase: refused.

    Every host that reaches the database could decrypt the stacks' secrets (connection
    URIs) with a passphrase printed in this repo's docs (issue 11).
    """


SECRETS_PROVIDER_ENV = "NEON_TENANTS_SECRETS_PROVIDER"
"""A Pulumi secrets provider URL (`awskms://...`, `gcpkms://...`) instead of a passphrase."""


def pulumi_env(
    repo_root: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables to add to the environment of every engine process.

    Values already set in `environ` win (a user's own backend or passphrase), except PATH,
    which gets the engine's bin dir and the project virtualenv in front. Like scripts/env.sh
    it creates the file backend's directory and PULUMI_HOME: the CLI refuses a missing one.

    PostgreSQL mode (issue 11): with `NEON_TENANTS_DATABASE_URL` set and no
    `PULUMI_BACKEND_URL`, state lives in that database (the engine's DIY `postgres://`
    backend); a password in either URL travels as `PGPASSWORD`, never in the URL the engine
    prints. A shared backend refuses the built-in passphrase (`SharedBackendSecrets`).
    """
    env = os.environ if environ is None else environ
    p = paths(repo_root, env)
    backend, backend_env = _backend(p.backend_url, env)
    out: dict[str, str] = {
        **backend_env,
        "PULUMI_HOME": str(p.pulumi_home),
        "PULUMI_BACKEND_URL": backend,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        # pulumi-resource-pulumi-python runs dynamic providers with this python: it must be
        # the one where neon_tenants (whose provider classes are pickled by reference) lives.
        "PULUMI_PYTHON_CMD": env.get("PULUMI_PYTHON_CMD") or _python_for(p),
        "PATH": _prepend_path(
            env.get("PATH", ""), [str(pulumi_bin_dir(p, env.get("PATH"))), str(p.venv / "bin")]
        ),
    }
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        out["PULUMI_CONFIG_PASSPHRASE"] = env["PULUMI_CONFIG_PASSPHRASE"]
    elif env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        out["PULUMI_CONFIG_PASSPHRASE_FILE"] = env["PULUMI_CONFIG_PASSPHRASE_FILE"]
    elif not env.get(SECRETS_PROVIDER_ENV):
        out["PULUMI_CONFIG_PASSPHRASE"] = DEFAULT_PASSPHRASE
    require_own_secrets(out, env)
    prepare_backend(out)
    return out


def _backend(default: str, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The backend URL to hand the engine, and the env carrying its password (if any)."""
    from neon_tenants.db import DatabaseUrl, database_url

    if env.get("PULUMI_BACKEND_URL"):
        url = env["PULUMI_BACKEND_URL"]
        if url.startswith(("postgres://", "postgresql://")):
            return DatabaseUrl.parse(url).pulumi_backend()
        return url, {}
    db = database_url(env)
    return db.pulumi_backend() if db is not None else (default, {})


def require_own_secrets(engine: Mapping[str, str], env: Mapping[str, str]) -> None:
    """Refuse a shared backend whose stack secrets would use the built-in passphrase."""
    if engine.get("PULUMI_BACKEND_URL", "file://").startswith("file://"):
        return
    if env.get(SECRETS_PROVIDER_ENV):
        return
    passphrase = engine.get("PULUMI_CONFIG_PASSPHRASE")
    if passphrase is None and engine.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return
    if not passphrase or passphrase == DEFAULT_PASSPHRASE:
        raise SharedBackendSecrets(
            "Pulumi state is in a shared backend (PostgreSQL): the built-in local passphrase "
            "is refused. Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to "
            f"your own secret, or {SECRETS_PROVIDER_ENV} to a KMS secrets provider "
            "(awskms://..., gcpkms://..., azurekeyvault://...)"
        )


def prepare_backend(env: Mapping[str, str]) -> None:
    """Create the file backend's directory and PULUMI_HOME (the CLI does not)."""
    url = env.get("PULUMI_BACKEND_URL", "")
    if url.startswith("file://"):
        Path(url.removeprefix("file://")).expanduser().mkdir(parents=True, exist_ok=True)
    if env.get("PULUMI_HOME"):
        Path(env["PULUMI_HOME"]).mkdir(parents=True, exist_ok=True)


def pulumi_bin_dir(p: Paths | None = None, search_path: str | None = None) -> Path:
    """The directory holding `pulumi` and its Python helpers.

    The bootstrap's cache when complete; else the directory of a `pulumi` on PATH that is
    the pinned version and has our language host beside it (a user's own install plus
    helpers); else the cache path, so that errors name where the engine should be.
    `search_path` is the PATH to look in (default: this process's).
    """
    p = p or paths()
    if all(os.access(p.pulumi_bin / f, os.X_OK) for f in ENGINE_FILES):
        return p.pulumi_bin
    found = shutil.which("pulumi", path=search_path)
    if found:
        d = Path(found).resolve().parent
        if (d / "pulumi-language-python").exists() and _cli_version(Path(found)) == PULUMI_VERSION:
            return d
    return p.pulumi_bin


def require_engine(p: Paths | None = None, search_path: str | None = None) -> Path:
    """The `pulumi` binary, or EngineMissing with the command that installs it."""
    d = pulumi_bin_dir(p, search_path)
    missing = [f for f in ENGINE_FILES if not os.access(d / f, os.X_OK)]
    if missing:
        raise EngineMissing(
            f"Pulumi engine v{PULUMI_VERSION} incomplete in {d} (missing: {', '.join(missing)}); "
            "run `make setup` (scripts/bootstrap.sh)"
        )
    return d / "pulumi"


def pulumi_command(p: Paths | None = None) -> PulumiCommand:
    """A PulumiCommand on our engine (never `PulumiCommand.install()`: that downloads)."""
    from pulumi.automation import PulumiCommand

    return PulumiCommand(root=str(require_engine(p).parent.parent))


def _cli_version(pulumi: Path) -> str:
    try:
        out = subprocess.run(
            [str(pulumi), "version"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.strip().removeprefix("v")


def _python_for(p: Paths) -> str:
    return str(p.venv_python) if p.venv_python.exists() else "python3"


def _prepend_path(path: str, dirs: list[str]) -> str:
    parts = [d for d in path.split(os.pathsep) if d and d not in dirs]
    return os.pathsep.join([*dirs, *parts])
