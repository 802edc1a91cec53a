"""Issue #2's last proof: `pulumi preview --stack free` from the repository root, with the
real CLI, our language host and neon_tenants/__main__.py, against the emulator."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from neon_tenants.fleet import load_fleet

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _pulumi(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pulumi", *args, "--color", "never"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_pulumi_preview_stack_free_from_the_repo_root(
    tmp_path: Path, repo_root: Path, metadata_emulator: Any
) -> None:
    from neon_tenants._env import pulumi_env

    config = repo_root / "stacks" / "Pulumi.free.yaml"
    original = config.read_bytes()  # `stack init` adds an encryptionsalt: put the file back
    env = {**os.environ, **pulumi_env(repo_root), "PULUMI_BACKEND_URL": f"file://{tmp_path}",
           **metadata_emulator.client_env}
    before = _free_projects(metadata_emulator)
    try:
        init = _pulumi(["stack", "init", "free"], repo_root, env)
        assert init.returncode == 0, init.stderr[-2000:]
        preview = _pulumi(["preview", "--stack", "free"], repo_root, env)
    finally:
        config.write_bytes(original)
    out = preview.stdout + preview.stderr
    assert preview.returncode == 0, out[-3000:]
    tenants = [t.id for t in load_fleet(repo_root / "stacks" / "fleets" / "free.yaml").tenants]
    assert tenants, "the committed free fleet declares tenants"
    for tenant in tenants:
        assert f"{tenant}-project" in out, out[-3000:]
    assert "to create" in out
    assert _free_projects(metadata_emulator) == before, "a preview creates nothing in Neon"


def _free_projects(emu: Any) -> set[str]:
    key = emu.credentials["orgs"]["free"]["api_key"]
    listed = httpx.get(f"{emu.base_url}/projects", params={"limit": 400},
                       headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert listed.status_code == 200, listed.text
    return {p["name"] for p in listed.json()["projects"]}
