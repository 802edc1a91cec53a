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
    shutil.copy(repo_root / "stacks" / "tiers.yaml", proj / "stacks" / "tiers.yaml")  # named there
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
    shutil.copy(repo_root / "stacks" / "tiers.yaml", proj / "stacks" / "tiers.yaml")
    (tmp_path / "state").mkdir()
    env = {**os.environ, **pulumi_env(), "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}"}
    assert _pulumi(["stack", "init", "pro"], proj, env).returncode == 0
    out = _pulumi(["preview", "-s", "pro"], proj, env)
    assert out.returncode != 0
    assert "fleet file" in out.stdout + out.stderr


def test_custom_and_overridden_tiers_mean_the_same_through_pulumi_up_and_fleet_manager(
    tmp_path: Path, repo_root: Path, metadata_emulator: Any
) -> None:
    """The stack config names the catalog (`neon-tenants:catalogFile`, set in the committed
    stacks/Pulumi.*.yaml); `pulumi up -s <tier>` and FleetManager load it through one loader,
    so a custom tier works through both and an override of a built-in tier gives both the
    same quotas: after either path, the other previews no changes."""
    from neon_tenants._env import pulumi_env
    from neon_tenants.automation import FleetManager
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    proj = tmp_path / "proj"
    (proj / "stacks" / "fleets").mkdir(parents=True)
    (proj / "neon_tenants").symlink_to(repo_root / "neon_tenants")
    (proj / "Pulumi.yaml").write_text(
        "name: neon-tenants\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\nmain: neon_tenants/\nstackConfigDir: stacks\n"
    )
    committed = (repo_root / "stacks" / "Pulumi.pro.yaml").read_text()
    assert "neon-tenants:catalogFile: stacks/tiers.yaml" in committed
    (proj / "stacks" / "Pulumi.pro.yaml").write_text(committed)
    (proj / "stacks" / "Pulumi.startup.yaml").write_text(
        "config:\n  neon-tenants:tier: startup\n"
        "  neon-tenants:fleetFile: stacks/fleets/startup.yaml\n"
        "  neon-tenants:catalogFile: stacks/tiers.yaml\n"
    )
    tiers = (repo_root / "stacks" / "tiers.yaml").read_text()
    assert "startup:" in tiers
    (proj / "stacks" / "tiers.yaml").write_text(
        tiers + "  pro:\n    quota:\n      active_time_seconds: 1234567\n"
    )
    save_fleet(proj / "stacks" / "fleets" / "startup.yaml",
               FleetSpec(tier="startup", tenants=(TenantSpec(id="su-a"),)))
    save_fleet(proj / "stacks" / "fleets" / "pro.yaml",
               FleetSpec(tier="pro", tenants=(TenantSpec(id="pro-a"),)))
    backend = f"file://{tmp_path / 'state'}"
    (tmp_path / "state").mkdir()
    neon = metadata_emulator.client_env
    env = {**os.environ, **pulumi_env(), "PULUMI_BACKEND_URL": backend, **neon}
    for stack in ("startup", "pro"):
        assert _pulumi(["stack", "init", stack], proj, env).returncode == 0
        up = _pulumi(["up", "-s", stack, "--yes"], proj, env)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]

    fm = FleetManager(proj / "stacks", work_dir=proj, backend_url=backend,
                      lock_dir=tmp_path / "locks", neon_env=neon)
    assert fm.catalog.tiers["pro"].quota.active_time_seconds == 1234567
    conns = {**fm.connections("startup"), **fm.connections("pro")}
    assert sorted(conns) == ["pro-a", "su-a"]
    diff = fm.preview(["startup", "pro"])
    assert diff.exit_code == 0, diff.to_markdown()
    creds = NeonCredentials.from_file(metadata_emulator.credentials_file)
    with NeonClient(creds, ClientConfig(base_url=metadata_emulator.base_url)) as client:
        org = client.org("paid")
        for tenant, active in (("su-a", 1080000), ("pro-a", 1234567)):
            settings = org.get_project(conns[tenant].project_id).settings
            quota = settings["quota"] if isinstance(settings, dict) else settings.quota.model_dump()
            assert quota["active_time_seconds"] == active, tenant

    fm.provision("su-b", "startup")
    for stack in ("startup", "pro"):
        again = _pulumi(["preview", "-s", stack, "--expect-no-changes"], proj, env)
        assert again.returncode == 0, again.stdout[-2000:]
