"""Infra teams' `pulumi up -s free` (the CLI through our language host and
neon_tenants/__main__.py) and FleetManager's inline program declare the same resources:
after one, the other previews no changes, and the backend sees the CLI's tenants."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _pulumi(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pulumi", *args, "--color", "never"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_up_then_fleet_manager_preview_is_clean(
    tmp_path: Path, repo_root: Path, metadata_emulator: Any
) -> None:
    from neon_tenants._env import pulumi_env
    from neon_tenants.automation import FleetManager

    proj = tmp_path / "proj"
    (proj / "stacks" / "fleets").mkdir(parents=True)
    (proj / "neon_tenants").symlink_to(repo_root / "neon_tenants")
    (proj / "Pulumi.yaml").write_text(
        "name: neon-tenants\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\nmain: neon_tenants/\nstackConfigDir: stacks\n"
    )
    shutil.copy(repo_root / "stacks" / "Pulumi.free.yaml", proj / "stacks" / "Pulumi.free.yaml")
    fleet = FleetSpec(tier="free", tenants=(TenantSpec(id="infra-a"), TenantSpec(id="infra-b")))
    save_fleet(proj / "stacks" / "fleets" / "free.yaml", fleet)
    backend = f"file://{tmp_path / 'state'}"
    (tmp_path / "state").mkdir()
    neon = metadata_emulator.client_env
    env = {**os.environ, **pulumi_env(), "PULUMI_BACKEND_URL": backend, **neon}
    assert _pulumi(["stack", "init", "free"], proj, env).returncode == 0
    up = _pulumi(["up", "-s", "free", "--yes"], proj, env)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    assert "infra-a-project" in up.stdout

    fm = FleetManager(
        proj / "stacks",
        work_dir=proj,
        backend_url=backend,
        lock_dir=tmp_path / "locks",
        neon_env=neon,
    )
    conns = fm.connections("free")
    assert sorted(conns) == ["infra-a", "infra-b"]
    diff = fm.preview(["free"])
    assert diff.exit_code == 0, diff.to_markdown()

    # and the other way round: FleetManager adds a tenant, the CLI sees no drift
    fm.provision("infra-c", "free")
    again = _pulumi(["preview", "-s", "free", "--expect-no-changes"], proj, env)
    assert again.returncode == 0, again.stdout[-2000:]


def test_missing_fleet_file_fails_instead_of_deleting(
    tmp_path: Path, repo_root: Path, metadata_emulator: Any
) -> None:
    from neon_tenants._env import pulumi_env

    proj = tmp_path / "proj"
    (proj / "stacks").mkdir(parents=True)
    (proj / "neon_tenants").symlink_to(repo_root / "neon_tenants")
    (proj / "Pulumi.yaml").write_text(
        "name: neon-tenants\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\nmain: neon_tenants/\nstackConfigDir: stacks\n"
    )
    shutil.copy(repo_root / "stacks" / "Pulumi.pro.yaml", proj / "stacks" / "Pulumi.pro.yaml")
    (tmp_path / "state").mkdir()
    env = {**os.environ, **pulumi_env(), "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}"}
    assert _pulumi(["stack", "init", "pro"], proj, env).returncode == 0
    out = _pulumi(["preview", "-s", "pro"], proj, env)
    assert out.returncode != 0
    assert "fleet file" in out.stdout + out.stderr
