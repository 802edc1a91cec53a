"""The offline Pulumi environment (neon_tenants._env) and its shell twin (scripts/env.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from neon_tenants._env import EngineMissing, pulumi_env, require_engine
from neon_tenants._settings import PULUMI_VERSION, paths


def _base(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", **extra}


def test_defaults_are_offline_local_and_under_the_cache(tmp_path: Path) -> None:
    env = pulumi_env(tmp_path, _base(tmp_path))
    cache = tmp_path / "home" / ".cache" / "neon-tenants"
    assert env["PULUMI_HOME"] == str(cache / "pulumi-home")
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / '.state' / 'pulumi'}"
    assert (tmp_path / ".state" / "pulumi").is_dir(), "the CLI refuses a missing backend dir"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "neon-tenants-local"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    first, second, *rest = env["PATH"].split(os.pathsep)
    assert first == str(cache / f"pulumi-v{PULUMI_VERSION}" / "bin")
    assert second == str(tmp_path / ".venv" / "bin")
    assert rest == ["/usr/bin", "/bin"]


def test_user_choices_win(tmp_path: Path) -> None:
    base = _base(
        tmp_path,
        NEON_TENANTS_CACHE=str(tmp_path / "c"),
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'mine'}",
        PULUMI_CONFIG_PASSPHRASE_FILE=str(tmp_path / "pass"),
        PULUMI_HOME=str(tmp_path / "ph"),
    )
    env = pulumi_env(tmp_path, base)
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path / 'mine'}"
    assert env["PULUMI_HOME"] == str(tmp_path / "ph")
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(tmp_path / "pass")
    assert "PULUMI_CONFIG_PASSPHRASE" not in env, "a passphrase file must not be overridden"
    assert env["PATH"].startswith(str(tmp_path / "c" / f"pulumi-v{PULUMI_VERSION}" / "bin"))


def test_empty_passphrase_is_a_choice_too(tmp_path: Path) -> None:
    env = pulumi_env(tmp_path, _base(tmp_path, PULUMI_CONFIG_PASSPHRASE=""))
    assert env["PULUMI_CONFIG_PASSPHRASE"] == ""


def test_missing_engine_names_the_fix(tmp_path: Path) -> None:
    p = paths(tmp_path, _base(tmp_path, NEON_TENANTS_CACHE=str(tmp_path / "empty")))
    with pytest.raises(EngineMissing, match="make setup"):
        require_engine(p, search_path="/usr/bin:/bin")


def test_env_sh_matches_pulumi_env(tmp_path: Path, repo_root: Path) -> None:
    base = _base(tmp_path, NEON_TENANTS_CACHE=str(tmp_path / "c"))
    script = f"source {repo_root / 'scripts' / 'env.sh'} && env"
    out = subprocess.run(
        ["bash", "-c", script], env=base, capture_output=True, text=True, check=True
    ).stdout
    shell = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    py = pulumi_env(repo_root, base)
    for key in (
        "PULUMI_HOME",
        "PULUMI_BACKEND_URL",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "PULUMI_PYTHON_CMD",
    ):
        assert shell[key] == py[key], key
    assert shell["PATH"].split(":")[:2] == py["PATH"].split(":")[:2]
