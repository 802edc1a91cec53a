"""One tenant through the real engine against the emulator: the issue 6 lifecycle.

The tests share one stack and run in file order (each builds on the previous state):
up -> unchanged preview -> quota change -> tier change (transfer) -> drift repair ->
secrets grep -> destroy. Figures (state bytes per tenant, engine seconds per resource)
are printed, not asserted.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest

from neon_tenants.catalog import builtin_catalog
from neon_tenants.providers import DevBranchSpec, TenantDatabase, TenantDatabaseArgs

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]
EMULATOR_FIXTURE = "emulator"  # real PostgreSQL 15: the URIs are connected to

PLATFORM = f"t{uuid.uuid4().hex[:6]}"
TENANT = "acme"
QUIET = {"on_output": lambda _line: None}


def _args(tier: str = "free", **kw: Any) -> TenantDatabaseArgs:
    return TenantDatabaseArgs(tenant_id=TENANT, tier=builtin_catalog().tier(tier),
                              platform=PLATFORM, dev_branches=[DevBranchSpec(name="dev")], **kw)


def _build(holder: dict[str, Any]) -> None:
    import pulumi

    db = TenantDatabase(TENANT, holder["args"])
    pulumi.export("project_id", db.project.project_id)
    pulumi.export("org_id", db.project.org_id)
    pulumi.export("dev_branch_id", db.dev_branches["dev"].branch_id)
    pulumi.export("connection_uri", db.connection_uri)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def es(engine_stack_factory: Any) -> Any:
    return engine_stack_factory(_build, {"args": _args()})


@pytest.fixture(scope="module")
def first_up(es: Any) -> Any:
    preview = es.stack.preview(**QUIET)  # a fresh stack: every id is unknown at preview
    # the stack, the component, the project (with its quota) and the dev branch
    assert preview.change_summary.get("create") == 4, preview.change_summary
    t0 = time.perf_counter()
    result = es.stack.up(**QUIET)
    seconds = time.perf_counter() - t0
    resources = es.stack.export_stack().deployment["resources"]
    n = sum(1 for r in resources if r["type"].startswith("pulumi-python:dynamic/neon:"))
    print(f"\nFIGURE engine_up_seconds_per_resource={seconds / max(n, 1):.2f} "
          f"(n={n}, total={seconds:.1f}s)")
    return result


def _project(es: Any, org: str, project_id: str) -> Any:
    with es.client() as client:
        return client.org(org).get_project(project_id)


def test_up_creates_project_with_its_quota_and_branch(es: Any, first_up: Any) -> None:
    outs = first_up.outputs
    project = _project(es, "free", outs["project_id"].value)
    assert project.name == f"{PLATFORM}-{TENANT}"
    assert (project.settings or {})["quota"]["active_time_seconds"] == 360000
    assert outs["connection_uri"].secret is True
    import psycopg

    with psycopg.connect(outs["connection_uri"].value, connect_timeout=30) as conn:
        assert conn.execute("select current_user").fetchone() == ("neondb_owner",)
    with es.client() as client:
        branch = client.org("free").get_branch(outs["project_id"].value,
                                               outs["dev_branch_id"].value)
    assert branch.name == "dev"


def _api_requests(es: Any) -> int:
    import httpx

    state = httpx.get(f"{es.emulator.root_url}/_emulator/state").json()
    return sum(n for route, n in state["requests"].items() if "_emulator" not in route)


def test_preview_of_unchanged_stack_shows_no_changes_and_calls_no_api(
    es: Any, first_up: Any
) -> None:
    before = _api_requests(es)
    t0 = time.perf_counter()
    preview = es.stack.preview(**QUIET)
    print(f"\nFIGURE unchanged_preview_seconds={time.perf_counter() - t0:.1f} "
          "(check+diff only)")
    assert set(preview.change_summary) == {"same"}, preview.change_summary
    assert _api_requests(es) == before  # check and diff made no API call


def test_quota_change_is_in_place(es: Any, first_up: Any) -> None:
    es.holder["args"] = _args(quota_overrides={"logical_size_bytes": 268435456})
    preview = es.stack.preview(**QUIET)
    # the project alone: the dev branch takes its id, known while it updates in place
    assert preview.change_summary.get("update") == 1, preview.change_summary
    assert "replace" not in preview.change_summary
    up = es.stack.up(**QUIET)
    assert up.summary.resource_changes.get("update") == 1, up.summary.resource_changes
    pid = up.outputs["project_id"].value
    assert pid == first_up.outputs["project_id"].value
    assert up.outputs["dev_branch_id"].value == first_up.outputs["dev_branch_id"].value
    assert _project(es, "free", pid).settings["quota"]["logical_size_bytes"] == 268435456


def test_tier_change_transfers_in_place(es: Any, first_up: Any) -> None:
    es.holder["args"] = _args("pro")
    preview = es.stack.preview(**QUIET)
    assert "replace" not in preview.change_summary, preview.change_summary
    assert "create" not in preview.change_summary and "delete" not in preview.change_summary
    up = es.stack.up(**QUIET)
    pid = up.outputs["project_id"].value
    assert pid == first_up.outputs["project_id"].value
    paid_org = es.emulator.credentials["orgs"]["paid"]["id"]
    assert up.outputs["org_id"].value == paid_org
    project = _project(es, "paid", pid)
    assert project.org_id == paid_org
    assert project.settings["quota"]["active_time_seconds"] == 2700000
    assert es.stack.preview(**QUIET).change_summary.keys() == {"same"}


def test_preview_of_region_change_says_replace(es: Any, first_up: Any) -> None:
    current = es.holder["args"]
    moved = current.tier.model_copy(update={"region_id": "aws-eu-central-1"})
    es.holder["args"] = current.model_copy(update={"tier": moved})
    try:
        preview = es.stack.preview(**QUIET)
    finally:
        es.holder["args"] = current
    assert preview.change_summary.get("replace") == 1, preview.change_summary
    assert es.stack.preview(**QUIET).change_summary.keys() == {"same"}


def test_refresh_finds_deleted_dev_branch_and_up_recreates_it(es: Any, first_up: Any) -> None:
    outs = es.stack.outputs()
    pid, old_branch = outs["project_id"].value, outs["dev_branch_id"].value
    with es.client() as client:
        client.org("paid").delete_branch(pid, old_branch)
    refresh = es.stack.refresh(**QUIET)
    assert refresh.summary.resource_changes.get("delete") == 1, refresh.summary.resource_changes
    up = es.stack.up(**QUIET)
    new_branch = up.outputs["dev_branch_id"].value
    assert new_branch != old_branch
    with es.client() as client:
        assert client.org("paid").get_branch(pid, new_branch).name == "dev"


def test_refresh_finds_console_quota_edit_and_up_repairs_it(es: Any, first_up: Any) -> None:
    from neon_tenants.client.models.projects import ProjectQuota, ProjectSettings, ProjectUpdate

    pid = es.stack.outputs()["project_id"].value
    with es.client() as client:
        client.org("paid").update_project(pid, ProjectUpdate(settings=ProjectSettings(
            quota=ProjectQuota(active_time_seconds=1, logical_size_bytes=1))))
    es.stack.refresh(**QUIET)
    preview = es.stack.preview(**QUIET)
    assert preview.change_summary.get("update") == 1, preview.change_summary
    es.stack.up(**QUIET)
    quota = _project(es, "paid", pid).settings["quota"]
    assert (quota["active_time_seconds"], quota["logical_size_bytes"]) == (2700000, 10737418240)


def test_no_key_or_password_in_state_or_export(es: Any, first_up: Any) -> None:
    creds = es.emulator.credentials
    needles = {"personal key": creds["personal_api_key"]}
    needles.update({f"{a} org key": o["api_key"] for a, o in creds["orgs"].items()})
    pid = es.stack.outputs()["project_id"].value
    with es.client() as client:
        api = client.org("paid")
        for br in api.iter_branches(pid):
            for role in api.list_roles(pid, br.id):
                secret = api.reveal_role_password(pid, br.id, role.name).get_secret_value()
                needles[f"password of {role.name} on {br.name}"] = secret
    assert len([n for n in needles.values() if n]) >= 4
    # the Automation API's export_stack() passes --show-secrets: export the way a user would
    res = subprocess.run(
        [es.stack.workspace.pulumi_command.command, "stack", "export", "--stack",
         es.stack.name], cwd=es.stack.workspace.work_dir, env=es.env, capture_output=True,
        text=True, check=True, timeout=120,
    )
    exported = res.stdout
    assert '"ciphertext"' in exported  # the URIs are there, encrypted
    files = [p for p in es.backend_dir.rglob("*.json") if p.is_file()]
    assert any('"ciphertext"' in p.read_text() for p in files)
    texts = {"export": exported}
    texts.update({str(p.relative_to(es.backend_dir)): p.read_bytes().decode("utf-8", "replace")
                  for p in files})
    leaks = [(what, where) for what, needle in needles.items() if needle
             for where, text in texts.items() if needle in text]
    assert leaks == [], f"secrets stored in plaintext (what, where): {leaks}"
    tenant = [r for r in json.loads(exported)["deployment"]["resources"]
              if f"::{TENANT}" in r["urn"]]
    compact = len(json.dumps(tenant, separators=(",", ":")))
    print(f"\nFIGURE state_bytes_per_tenant={compact} (compact JSON of its {len(tenant)} "
          f"resources; pretty export of the whole stack {len(exported)} bytes)")


def test_destroy_leaves_nothing(es: Any, first_up: Any) -> None:
    es.stack.destroy(**QUIET)
    with es.client() as client:
        names = [p.name for org in ("free", "paid")
                 for p in client.org(org).iter_projects(search=PLATFORM)]
    assert names == []
