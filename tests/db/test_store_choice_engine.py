"""The tier's stack config chooses the fleet store for FleetManager, the CLI and workers
(fleet/store_choice.py), through the real engine, real PostgreSQL 15 and the metadata
emulator: a URL in the environment never switches a files tier, `fleet import|export`
write the choice into the stack config, a worker refuses a tier its config keeps in files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from neon_tenants.automation import FleetManager, InvalidRequest
from neon_tenants.db.schema import migrate

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture()
def pg_env(
    fresh_db: Any, metadata_emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, str]]:
    url = fresh_db()
    migrate(url)
    env = {**metadata_emulator.client_env, "NEON_TENANTS_DATABASE_URL": url,
           "PULUMI_CONFIG_PASSPHRASE": "store-choice-secret", "NEON_TENANTS_ARCHIVE": "off",
           "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env


def _stacks(root: Path, repo_root: Path, fleet_store: str | None, tenants: list[str]) -> Path:
    stacks = root / "stacks"
    (stacks / "fleets").mkdir(parents=True)
    # the committed config without the default passphrase's salt (ours is our own)
    (stacks / "Pulumi.free.yaml").write_text("".join(
        line for line in (repo_root / "stacks" / "Pulumi.free.yaml").read_text()
        .splitlines(keepends=True) if not line.startswith("encryptionsalt")))
    shutil.copy(repo_root / "stacks" / "tiers.yaml", stacks / "tiers.yaml")
    (root / "Pulumi.yaml").write_text(
        "name: neon-tenants\nruntime:\n  name: python\n  options:\n"
        f"    virtualenv: {repo_root / '.venv'}\nmain: neon_tenants/\nstackConfigDir: stacks\n"
    )
    if fleet_store is not None:
        path = stacks / "Pulumi.free.yaml"
        path.write_text(path.read_text().replace(
            "config:\n", f"config:\n  neon-tenants:fleetStore: {fleet_store}\n", 1))
    listed = "".join(f"- id: {t}\n" for t in tenants) or "[]\n"
    (stacks / "fleets" / "free.yaml").write_text(
        f"tier: free\nshards: 1\ntenants:{' ' if not tenants else chr(10)}{listed}")
    return stacks


def _rows(url: str) -> list[str]:
    with psycopg.connect(url) as db:
        return [r[0] for r in db.execute("SELECT tenant_id FROM nt_tenants ORDER BY 1")]


def _project_names(emu: Any) -> set[str]:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    client = NeonClient(
        NeonCredentials.from_file(emu.credentials_file), ClientConfig(base_url=emu.base_url)
    )
    try:
        return {p.name for p in client.org("free").iter_projects()}
    finally:
        client.close()


def _cli(env: dict[str, str], stacks: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "neon-tenants")
    return subprocess.run([exe, *args], env={**env, "NEON_TENANTS_STACKS_DIR": str(stacks)},
                          capture_output=True, text=True, timeout=300)


def test_files_configured_stays_files_with_the_url_set(
    pg_env: dict[str, str], metadata_emulator: Any, repo_root: Path, tmp_path: Path
) -> None:
    stacks = _stacks(tmp_path, repo_root, "files", [])
    with FleetManager(stacks, work_dir=tmp_path / "work",
                      neon_env=metadata_emulator.client_env) as fm:
        assert fm.queue is None  # no job queue: the call runs here, on the fleet file
        conn = fm.provision("sc-files", "free")
        assert conn.project_id
    fleet = yaml.safe_load((stacks / "fleets" / "free.yaml").read_text())
    assert [t["id"] for t in fleet["tenants"]] == ["sc-files"]
    assert _rows(pg_env["NEON_TENANTS_DATABASE_URL"]) == []  # nothing went to the rows


def test_postgres_configured_without_the_url_is_refused_before_any_write(
    pg_env: dict[str, str], metadata_emulator: Any, repo_root: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stacks = _stacks(tmp_path, repo_root, "postgres", [])
    before = (stacks / "fleets" / "free.yaml").read_text()
    monkeypatch.delenv("NEON_TENANTS_DATABASE_URL")
    with pytest.raises(InvalidRequest) as info:
        FleetManager(stacks, work_dir=tmp_path / "work", neon_env=metadata_emulator.client_env)
    assert "NEON_TENANTS_DATABASE_URL" in str(info.value) and "tier free" in str(info.value)
    env = {k: v for k, v in pg_env.items() if k != "NEON_TENANTS_DATABASE_URL"}
    import os

    env = {**os.environ, **env}
    done = _cli(env, stacks, "tenant", "provision", "sc-refused", "--tier", "free")
    assert done.returncode == 1 and "NEON_TENANTS_DATABASE_URL" in done.stderr, done.stderr
    assert (stacks / "fleets" / "free.yaml").read_text() == before
    assert "nt-sc-refused" not in _project_names(metadata_emulator)


def test_import_switches_the_config_the_worker_obeys_it_and_export_switches_back(
    pg_env: dict[str, str], metadata_emulator: Any, repo_root: Path, tmp_path: Path
) -> None:
    import os

    from neon_tenants.fleet.store_choice import tier_store
    from neon_tenants.jobs import WorkerSettings, run_worker
    from neon_tenants.jobs._tasks import defer_shard, make_app

    url = pg_env["NEON_TENANTS_DATABASE_URL"]
    env = {**os.environ, **pg_env}
    stacks = _stacks(tmp_path / "host", repo_root, None, ["sc-imp-a"])
    assert tier_store(stacks, "free").kind == "files"  # the fleet file, by default

    done = _cli(env, stacks, "fleet", "import", "--tier", "free", "--json")
    assert done.returncode == 0 and '"fleet_store": "postgres"' in done.stdout, done.stderr
    config = yaml.safe_load((stacks / "Pulumi.free.yaml").read_text())["config"]
    assert config["neon-tenants:fleetStore"] == "postgres"
    assert tier_store(stacks, "free").kind == "postgres"

    with FleetManager(stacks, work_dir=tmp_path / "replica",
                      neon_env=metadata_emulator.client_env) as fm:
        assert fm.queue is not None
        assert fm.provision("sc-imp-b", "free", wait=False).status == "pending"

    # a worker whose checkout keeps free in files refuses the job: nothing applied
    other = _stacks(tmp_path / "files-host", repo_root, "files", [])
    settings = dict(conninfo=url, neon_env=metadata_emulator.client_env, stop_when_idle=True)
    run_worker(WorkerSettings(work_dir=tmp_path / "w-files", stacks_dir=other, **settings))
    with psycopg.connect(url) as db:
        statuses = dict(db.execute("SELECT tenant_id, status FROM nt_tenants").fetchall())
        failed = db.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'"
                            ).fetchone()
    assert statuses["sc-imp-b"] == "pending" and failed == (1,)
    assert "nt-sc-imp-b" not in _project_names(metadata_emulator)

    app = make_app(url)
    with app.open():
        defer_shard(app, "free", 0)
    run_worker(WorkerSettings(work_dir=tmp_path / "w-pg", stacks_dir=stacks, **settings))
    with FleetManager(stacks, work_dir=tmp_path / "replica",
                      neon_env=metadata_emulator.client_env) as fm:
        assert {fm.status(t).status for t in ("sc-imp-a", "sc-imp-b")} == {"ready"}
        project_b = fm.show("sc-imp-b").project_id

    done = _cli(env, stacks, "fleet", "export", "--tier", "free", "--json")
    assert done.returncode == 0 and '"fleet_store": "files"' in done.stdout, done.stderr
    assert tier_store(stacks, "free").kind == "files"
    with FleetManager(stacks, work_dir=tmp_path / "replica",
                      neon_env=metadata_emulator.client_env) as fm:
        assert fm.queue is None  # files again, though the URL is still set
        assert fm.show("sc-imp-b").project_id == project_b  # same stacks, same project
    assert url.split(":")[2].split("@")[0] not in done.stdout + done.stderr


def test_plain_pulumi_obeys_the_same_rule(
    pg_env: dict[str, str], repo_root: Path, tmp_path: Path
) -> None:
    """Infra teams' `pulumi preview` (our __main__.py through the language host): `files`
    configured with the URL set previews the fleet file's tenant; `postgres` configured
    with the URL unset fails naming the variable."""
    import os

    from neon_tenants._env import pulumi_env

    proj = tmp_path / "proj"
    stacks = _stacks(proj, repo_root, "files", ["sc-prog"])
    (proj / "neon_tenants").symlink_to(repo_root / "neon_tenants")
    env = {**os.environ, **pg_env}
    env.update(pulumi_env(None, env))
    init = subprocess.run(["pulumi", "stack", "init", "free"], cwd=proj, env=env,
                          capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stderr
    files = subprocess.run(["pulumi", "preview", "-s", "free", "--color", "never"],
                           cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert files.returncode == 0, files.stdout[-2000:] + files.stderr[-2000:]
    assert "sc-prog" in files.stdout and "create" in files.stdout  # the fleet file's tenant

    path = stacks / "Pulumi.free.yaml"
    path.write_text(path.read_text().replace("fleetStore: files", "fleetStore: postgres"))
    no_url = {k: v for k, v in env.items() if k != "NEON_TENANTS_DATABASE_URL"}
    refused = subprocess.run(["pulumi", "preview", "-s", "free", "--color", "never"],
                             cwd=proj, env=no_url, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert "NEON_TENANTS_DATABASE_URL" in refused.stdout + refused.stderr
    password = pg_env["NEON_TENANTS_DATABASE_URL"].split(":")[2].split("@")[0]
    assert password not in files.stdout + files.stderr + refused.stdout + refused.stderr


def test_stacks_init_sizes_a_postgres_tier_from_its_row(
    pg_env: dict[str, str], repo_root: Path, tmp_path: Path
) -> None:
    import json
    import os

    from neon_tenants.db.store import PostgresFleetStore

    url = pg_env["NEON_TENANTS_DATABASE_URL"]
    stacks = _stacks(tmp_path / "host", repo_root, "postgres", ["si-a"])  # the file says 1
    rows = PostgresFleetStore(url, max_size=1)
    try:
        rows.ensure_fleet("free", 3)  # the database says 3 (as after a reshard)
        rows.set_shards("free", 3)
    finally:
        rows.close()
    done = _cli({**os.environ, **pg_env}, stacks, "stacks", "init", "--tier", "free", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [s["stack"] for s in json.loads(done.stdout)["stacks"]] == [
        "free-00", "free-01", "free-02"]
    for n in range(3):  # each shard stack carries the tier's choice
        config = yaml.safe_load((stacks / f"Pulumi.free-{n:02d}.yaml").read_text())["config"]
        assert config["neon-tenants:fleetStore"] == "postgres"
