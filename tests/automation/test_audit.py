"""`audit` through the real engine and a private emulator (issue 14): each inconsistency is
built the way it happens (through the API behind the fleet's back, by editing the state the
way an interrupted run leaves it, by a dead engine's lock) and `audit` must name it;
`audit --fix` repairs only the safe ones and never deletes a project.

The emulator is this module's own: audit looks at every project of the configured orgs,
so projects of other test modules would be (rightly) reported as orphans.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neon_tenants.automation import FleetManager
from neon_tenants.automation.audit import AuditReport
from neon_tenants.client.models.projects import ProjectCreate
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from .conftest import Recorder, neon_client
from .test_stale_locks import write_lock

pytestmark = [pytest.mark.engine, pytest.mark.slow]

FREE = ["au-0", "au-1", "au-2", "au-3"]
PRO = ["ap-0"]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from neon_emulator.testing import EmulatorProcess

    with EmulatorProcess(tmp_path_factory.mktemp("audit-emu"), config={"compute": "metadata"}) as e:
        yield e


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit")


@pytest.fixture(scope="module")
def fm(emu: Any, root: Path) -> Iterator[FleetManager]:
    with FleetManager(
        root / "stacks",
        work_dir=root,
        backend_url=f"file://{root / 'state'}",
        lock_dir=root / ".state" / "locks",
        neon_env=emu.client_env,
        on_event=Recorder(),
    ) as manager:
        save_fleet(
            manager.fleet_path("free"),
            FleetSpec(tier="free", shards=1, tenants=tuple(TenantSpec(id=t) for t in FREE)),
        )
        save_fleet(
            manager.fleet_path("pro"),
            FleetSpec(tier="pro", shards=1, tenants=tuple(TenantSpec(id=t) for t in PRO)),
        )
        manager.up("free")
        manager.up("pro")
        yield manager


@pytest.fixture(scope="module")
def client(emu: Any) -> Iterator[Any]:
    with neon_client(emu) as c:
        yield c


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.as_posix().encode() + f.read_bytes())
    return h.hexdigest()


def _live(client: Any) -> dict[str, list[str]]:
    """project name -> ids, over both orgs."""
    out: dict[str, list[str]] = {}
    for alias in ("free", "paid"):
        for p in client.org(alias).iter_projects():
            out.setdefault(p.name, []).append(p.id)
    return out


def _by(report: AuditReport, kind: str) -> dict[str, Any]:
    return {f.subject: f for f in report.of_kind(kind)}  # type: ignore[arg-type]


def test_consistent_fleet_audits_ok_and_reading_changes_nothing(
    fm: FleetManager, root: Path, client: Any
) -> None:
    state, fleets, before = _digest(root / "state"), _digest(root / "stacks"), _live(client)
    report = fm.audit()
    assert report.consistent and report.exit_code == 0, report.markdown()
    assert sorted(_by(report, "ok")) == sorted(FREE + PRO)
    assert (report.tenants, report.projects, report.stacks) == (5, 5, 2)
    assert (_digest(root / "state"), _digest(root / "stacks"), _live(client)) == (
        state,
        fleets,
        before,
    )


def _add_pending_create(root: Path, stack: str, tenant: str) -> str:
    """What `kill -9` mid-create leaves: the project's create in the checkpoint's
    `pending_operations` (written into the file backend's checkpoint as the engine does;
    `pulumi stack import` would drop it)."""
    path = root / "state" / ".pulumi" / "stacks" / "neon-tenants" / f"{stack}.json"
    checkpoint = json.loads(path.read_text())
    latest = checkpoint["checkpoint"]["latest"]
    res = next(
        r
        for r in latest["resources"]
        if r["type"].endswith(":NeonTenantProject") and r["urn"].endswith(f"::{tenant}-project")
    )
    pending = {k: v for k, v in res.items() if k in ("urn", "custom", "type", "inputs", "parent")}
    latest["pending_operations"] = [{"resource": pending, "type": "creating"}]
    path.write_text(json.dumps(checkpoint))
    return str(res["urn"])


def test_every_inconsistency_is_named_and_fix_repairs_only_the_safe_ones(
    fm: FleetManager, root: Path, client: Any, emu: Any
) -> None:
    conns = fm.connections("free")
    free = client.org("free")
    # an orphan project made through the API
    stray = free.create_project(ProjectCreate(name="stray-project")).project.id
    # a project deleted behind the fleet's back
    gone = conns["au-1"].project_id
    free.delete_project(gone)
    # a state entry with a pending create (the project exists)
    urn = _add_pending_create(root, "free", "au-2")
    # a stale lock of a dead process
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = write_lock(root / "state", "free", pid=dead.pid)
    # two projects named for one tenant
    twin = free.create_project(ProjectCreate(name="nt-au-3")).project.id
    # a tenant's resources in a state while no fleet lists it (the next `up` would delete it)
    ap0 = fm.connections("pro")["ap-0"].project_id
    save_fleet(fm.fleet_path("pro"), FleetSpec(tier="pro", shards=1, tenants=()))

    report = fm.audit()
    assert not report.consistent and report.exit_code == 1
    assert _by(report, "orphan_project")[stray].fix is None
    missing = _by(report, "missing_project")["au-1"]
    assert missing.project_ids == (gone,) and missing.fix == "forget_state"
    assert "au-2" in _by(report, "pending_operation"), report.markdown()
    pending = _by(report, "pending_operation")["au-2"]
    assert pending.urn == urn and pending.fix == "clear_pending"
    assert "exists" in pending.detail
    assert _by(report, "stale_lock")["free"].fix == "clear_lock"
    dup = _by(report, "duplicate_projects")["au-3"]
    assert twin in dup.project_ids and conns["au-3"].project_id in dup.project_ids
    assert dup.fix is None
    unowned = _by(report, "unowned_resources")["ap-0"]
    assert unowned.fix is None and unowned.stack == "pro"
    assert sorted(_by(report, "ok")) == ["au-0"]
    md = report.markdown()
    for kind in ("orphan_project", "missing_project", "pending_operation", "stale_lock"):
        assert kind in md
    assert json.loads(json.dumps(report.to_dict()))["consistent"] is False

    fixed = fm.audit(fix=True)
    assert sorted({(f.kind, f.subject) for f in fixed.fixed}) == [
        ("missing_project", "au-1"),
        ("not_deployed", "au-1"),
        ("pending_operation", "au-2"),
        ("stale_lock", "free"),
    ]
    assert not lock.exists()
    state = fm.engine.workspace.export_stack("free").deployment
    assert not state.get("pending_operations")
    # what needs a human is still there, untouched; nothing was deleted
    assert sorted(f.kind for f in fixed.problems) == [
        "duplicate_projects",
        "orphan_project",
        "unowned_resources",
    ]
    live = _live(client)
    assert stray in live["stray-project"] and sorted(live["nt-au-3"]) == sorted(
        [twin, conns["au-3"].project_id]
    )
    assert live["nt-ap-0"] == [ap0]
    new_au1 = fm.connections("free")["au-1"].project_id
    assert new_au1 != gone and live["nt-au-1"] == [new_au1]

    # a human settles the rest; the audit is clean again
    free.delete_project(stray)
    free.delete_project(twin)
    save_fleet(
        fm.fleet_path("pro"),
        FleetSpec(tier="pro", shards=1, tenants=tuple(TenantSpec(id=t) for t in PRO)),
    )
    assert fm.audit().consistent


def test_cli_audit_json_and_exit_codes(fm: FleetManager, root: Path, emu: Any) -> None:
    from neon_tenants.cli.app import app

    env = {
        **emu.client_env,
        "NEON_TENANTS_STACKS_DIR": str(root / "stacks"),
        "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
    }
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "--json"], env=env)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["consistent"] is True
    with neon_client(emu) as c:
        extra = c.org("free").create_project(ProjectCreate(name="cli-stray")).project.id
        bad = runner.invoke(app, ["audit", "--markdown"], env=env)
        assert bad.exit_code == 1
        assert "orphan_project" in bad.stdout and extra in bad.stdout
        c.org("free").delete_project(extra)
