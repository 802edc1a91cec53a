"""A fresh copy of the repository for CLI tests that act as a new user would.

Tracked files only (`git ls-files`), so nothing from a developer's checkout (state, the
emulator's data, a modified fleet) leaks in; the virtualenv is the one `make setup` built
(a symlink: a new venv per test would be a pip install). Commands run in `bash` with
`source scripts/env.sh`, exactly as the README says, with no NEON_* or PULUMI_* setting
from the outer environment except PULUMI_HOME (where the bootstrap put the plugins).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_KEEP_PULUMI = ("PULUMI_HOME",)


@dataclass(frozen=True)
class Checkout:
    root: Path
    env: dict[str, str]

    def sh(self, script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`source scripts/env.sh`, then `script`, in this checkout (bash, one process)."""
        return subprocess.run(
            ["bash", "-c", f"source scripts/env.sh && {script}"], cwd=self.root, env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )


def copy_checkout(repo_root: Path, dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=repo_root, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = repo_root / rel
        if not src.is_file() or rel.startswith("tests/"):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    # files this branch adds that are not committed yet (the tree a commit would have)
    for extra in ("neon_tenants", "stacks", "scripts", "examples"):
        if (repo_root / extra).is_dir():
            shutil.copytree(repo_root / extra, dest / extra, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / ".venv").symlink_to(repo_root / ".venv")
    return dest


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not (k.startswith(("NEON_", "PULUMI_")) and k not in _KEEP_PULUMI)}


@pytest.fixture
def checkout(tmp_path: Path, repo_root: Path) -> Checkout:
    return Checkout(copy_checkout(repo_root, tmp_path / "repo"), clean_env())


@pytest.fixture(scope="module")
def module_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """This module's own metadata emulator: its tests deploy the committed fleets (project
    names nt-demo-*), which must not meet other modules' projects in a shared emulator, and
    they cannot `destroy` there (archive-before-delete needs real databases)."""
    from neon_emulator.testing import EmulatorProcess

    with EmulatorProcess(tmp_path_factory.mktemp("emu"), config={"compute": "metadata"}) as emu:
        yield emu
