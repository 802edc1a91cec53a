"""End-to-end flows of the client against the real emulator (metadata backend: no Postgres).

These exercise the client over a real socket: provisioning, both pagination styles,
transfer with the personal key (and 403 with an org key), branches, snapshots, and the
emulator's fault injection for 423/429 retries and the ambiguous create.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from neon_tenants.client import (
    AmbiguousOutcome,
    BranchCreate,
    BranchSpec,
    BranchUpdate,
    ClientConfig,
    EndpointCreateOptions,
    NeonAPIError,
    NeonClient,
    NeonCredentials,
    ProjectCreate,
    ProjectQuota,
    ProjectSettings,
    TransferIntegrationsBlocked,
)

pytest.importorskip("neon_emulator.testing")
# the app module imports every router: while the emulator is incomplete this skips cleanly
pytest.importorskip("neon_emulator.app")


def _config(emu: Any, **overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "base_url": emu.base_url, "backoff_initial": 0.05, "backoff_max": 0.5,
        "deadline_seconds": 60.0, "operation_poll_initial": 0.05, "operation_poll_max": 0.25,
        "operation_timeout": 60.0,
    }
    values.update(overrides)
    return ClientConfig(**values)


@pytest.fixture
def emu(metadata_emulator: Any) -> Any:
    return metadata_emulator


@pytest.fixture
def neon(emu: Any) -> Iterator[NeonClient]:
    with NeonClient(NeonCredentials.from_file(emu.credentials_file), _config(emu)) as client:
        yield client


def _name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _set_faults(emu: Any, rules: list[dict[str, Any]]) -> None:
    """PUT /_emulator/faults, then check the emulator really holds these rules."""
    emu.admin("PUT", "faults", json={"faults": rules})
    active = emu.admin("GET", "faults")["faults"]
    assert [r["route"] for r in active] == [r["route"] for r in rules]


def _count(emu: Any, route: str) -> int:
    return int(emu.admin("GET", "state")["requests"].get(route, 0))


def test_e2e_provision_project_and_connection_uris(neon: NeonClient):
    org = neon.org("free")
    body = ProjectCreate(name=_name("prov"), settings=ProjectSettings(
        quota=ProjectQuota(active_time_seconds=360000, logical_size_bytes=536870912)))
    created = org.create_project(body)
    project_id = created.project.id
    assert created.project.name == body.name
    for op in org.iter_operations(project_id):
        assert op.status in ("finished", "skipped", "cancelled")
    role = created.roles[0].name if created.roles else "neondb_owner"
    db = created.databases[0].name if created.databases else "neondb"
    direct = org.connection_uri(project_id, db, role).get_secret_value()
    pooled = org.connection_uri(project_id, db, role, pooled=True).get_secret_value()
    assert direct.startswith("postgres") and pooled.startswith("postgres")
    assert direct != pooled
    fetched = org.get_project(project_id)
    assert fetched.id == project_id


def test_e2e_projects_pagination_with_small_pages(emu: Any):
    creds = NeonCredentials.from_file(emu.credentials_file)
    prefix = _name("page")
    with NeonClient(creds, _config(emu, projects_page_size=2)) as client:
        org = client.org("free")
        ids = {org.create_project(ProjectCreate(name=f"{prefix}-{i}"), wait=False).project.id
               for i in range(5)}
        listed = [p.id for p in org.iter_projects(search=prefix)]
    assert sorted(listed) == sorted(ids)
    assert len(listed) == len(set(listed))


def test_e2e_branches_lifecycle_and_cursor_pagination(emu: Any):
    creds = NeonCredentials.from_file(emu.credentials_file)
    with NeonClient(creds, _config(emu, branches_page_size=2)) as client:
        org = client.org("paid")
        created = org.create_project(ProjectCreate(name=_name("br")))
        pid, main_id = created.project.id, created.branch.id
        made = []
        for i in range(3):
            branch = org.create_branch(
                pid, BranchCreate(branch=BranchSpec(name=f"dev-{i}", parent_id=main_id)),
                endpoints=[EndpointCreateOptions(type="read_write")] if i == 0 else None,
            )
            made.append(branch.branch.id)
        assert len(org.list_branch_endpoints(pid, made[0])) == 1
        listed = [b.id for b in org.iter_branches(pid, sort_by="name", sort_order="asc")]
        assert set(made) | {main_id} == set(listed)
        assert org.count_branches(pid) == len(listed)
        renamed = org.update_branch(pid, made[1], BranchUpdate(name="renamed"))
        assert renamed.name == "renamed"
        assert org.get_branch(pid, made[1]).parent_id == main_id
        org.delete_branch(pid, made[2])
        assert made[2] not in {b.id for b in org.iter_branches(pid)}


def test_e2e_transfer_with_personal_key(neon: NeonClient):
    free, paid = neon.org("free"), neon.org("paid")
    pid = free.create_project(ProjectCreate(name=_name("xfer"))).project.id
    neon.personal.transfer_projects(free.org_id, paid.org_id, [pid])
    moved = paid.get_project(pid)
    assert moved.org_id == paid.org_id


def test_e2e_transfer_with_org_key_is_forbidden(emu: Any, neon: NeonClient):
    free = neon.org("free")
    pid = free.create_project(ProjectCreate(name=_name("xfer403"))).project.id
    creds = NeonCredentials.from_file(emu.credentials_file)
    wrong = creds.model_copy(update={"personal_api_key": creds.orgs["free"].api_key})
    with NeonClient(wrong, _config(emu)) as client, pytest.raises(NeonAPIError) as info:
        client.personal.transfer_projects(free.org_id, neon.org("paid").org_id, [pid])
    assert info.value.status == 403
    assert free.get_project(pid).id == pid


def test_e2e_snapshot_create_list_rename_delete(neon: NeonClient):
    org = neon.org("paid")
    created = org.create_project(ProjectCreate(name=_name("snap")))
    pid, bid = created.project.id, created.branch.id
    snap = org.create_snapshot(pid, bid, name="first")
    assert snap.name == "first"
    assert snap.id in {s.id for s in org.list_snapshots(pid)}
    assert org.rename_snapshot(pid, snap.id, "renamed").name == "renamed"
    org.delete_snapshot(pid, snap.id)
    assert snap.id not in {s.id for s in org.list_snapshots(pid)}


def test_e2e_idempotent_create_returns_same_project(neon: NeonClient):
    org = neon.org("free")
    name = _name("idem")
    first = org.create_project_idempotent(ProjectCreate(name=name))
    second = org.create_project_idempotent(ProjectCreate(name=name))
    assert first.created is True and second.created is False
    assert first.project.id == second.project.id


@pytest.mark.parametrize("status", [423, 429, 503])
def test_e2e_injected_retryable_status_is_retried(emu: Any, neon: NeonClient, status: int):
    org = neon.org("free")
    pid = org.create_project(ProjectCreate(name=_name("fault"))).project.id
    route = "GET /projects/{project_id}"
    _set_faults(emu, [{"route": route, "error_rate": 1.0, "status": status, "times": 2}])
    before = _count(emu, route)
    try:
        assert org.get_project(pid).id == pid
    finally:
        _set_faults(emu, [])
    assert _count(emu, route) - before == 3  # two injected failures, then success


def test_e2e_lock_window_423_on_mutation_is_retried(emu: Any):
    creds = NeonCredentials.from_file(emu.credentials_file)
    # many short retries: the attempt cap must not end the wait before the deadline does
    with NeonClient(creds, _config(emu, max_attempts=500, backoff_max=0.25)) as client:
        org = client.org("free")
        pid = org.create_project(ProjectCreate(name=_name("lock"))).project.id
        emu.admin("POST", "lock", json={"project_id": pid, "seconds": 2.0})
        route = "POST /projects/{project_id}/branches"
        before = _count(emu, route)
        created = org.create_branch(pid, BranchCreate(branch=BranchSpec(name="after-lock")))
    assert created.branch.name == "after-lock"
    assert _count(emu, route) - before >= 2  # at least one 423 before success


def test_e2e_transfer_blocked_by_integration_is_typed(emu: Any, neon: NeonClient):
    free = neon.org("free")
    pid = free.create_project(ProjectCreate(name=_name("integ"))).project.id
    emu.admin("POST", f"projects/{pid}/integration", json={"integration": "github"})
    with pytest.raises(TransferIntegrationsBlocked) as info:
        neon.personal.transfer_projects(free.org_id, neon.org("paid").org_id, [pid])
    assert [p["id"] for p in info.value.projects] == [pid]
    assert free.get_project(pid).org_id == free.org_id


def test_e2e_dropped_create_is_ambiguous_then_reconciled(emu: Any, neon: NeonClient):
    org = neon.org("free")
    name = _name("drop")
    _set_faults(emu, [{"route": "POST /projects", "error_rate": 1.0, "drop_after_act": True,
                       "times": 1}])
    try:
        with pytest.raises(AmbiguousOutcome):
            org.create_project(ProjectCreate(name=name))
    finally:
        _set_faults(emu, [])
    ensured = org.create_project_idempotent(ProjectCreate(name=name))
    assert ensured.created is False
    assert [p.name for p in org.iter_projects(search=name)] == [name]


def test_e2e_pitr_restore_with_preserve_and_snapshot_restore(neon: NeonClient):
    org = neon.org("paid")
    created = org.create_project(ProjectCreate(name=_name("pitr")))
    pid, main_id = created.project.id, created.branch.id
    dev = org.create_branch(pid, BranchCreate(branch=BranchSpec(name="dev", parent_id=main_id)))
    stamp = org.get_branch(pid, dev.branch.id).created_at
    assert stamp is not None
    restored = org.restore_branch(pid, dev.branch.id, dev.branch.id, source_timestamp=stamp,
                                  preserve_under_name="dev-before-restore")
    assert restored.id == dev.branch.id
    names = {b.name for b in org.iter_branches(pid)}
    assert "dev-before-restore" in names
    reset = org.reset_branch_to_parent(pid, dev.branch.id)
    assert reset.id == dev.branch.id
    snap = org.create_snapshot(pid, main_id, name="cp")
    result = org.restore_snapshot(pid, snap.id, name="from-cp")
    assert result.branch.name == "from-cp"


def test_e2e_roles_databases_and_endpoint_actions(neon: NeonClient):
    org = neon.org("paid")
    created = org.create_project(ProjectCreate(name=_name("rde")))
    pid, bid = created.project.id, created.branch.id
    role = org.create_role(pid, bid, "app_user")
    assert role.name == "app_user"
    db = org.create_database(pid, bid, "appdb", "app_user")
    assert db.name in {d.name for d in org.list_databases(pid, bid)}
    secret = org.reveal_role_password(pid, bid, "app_user").get_secret_value()
    org.reset_role_password(pid, bid, "app_user")
    assert org.reveal_role_password(pid, bid, "app_user").get_secret_value() != secret
    endpoint = org.list_branch_endpoints(pid, bid)[0]
    org.suspend_endpoint(pid, endpoint.id)
    org.start_endpoint(pid, endpoint.id)
    assert org.get_endpoint(pid, endpoint.id).id == endpoint.id
    assert org.delete_database(pid, bid, "appdb") is not None
    assert org.delete_role(pid, bid, "app_user") is not None


def test_e2e_consumption_auth_data_api_and_org_keys(neon: NeonClient):
    org = neon.org("paid")
    created = org.create_project(ProjectCreate(name=_name("extras")))
    pid, bid = created.project.id, created.branch.id
    db = created.databases[0].name
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = list(org.iter_consumption_projects(
        None, (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        now.strftime("%Y-%m-%dT%H:%M:%SZ"), "hourly", ["compute_unit_seconds"],
        project_ids=[pid]))
    assert {r.project_id for r in rows} <= {pid}
    auth = org.create_neon_auth(pid, bid, "better_auth", db)
    assert org.get_neon_auth(pid, bid).auth_provider == auth.auth_provider
    api = org.create_data_api(pid, bid, db)
    assert org.get_data_api(pid, bid, db).url == api.url
    org.delete_data_api(pid, bid, db)
    org.delete_neon_auth(pid, bid)
    assert org.get_organization().id == org.org_id
    key = org.create_org_api_key(_name("key"))
    assert key.id in {k.id for k in org.iter_org_api_keys()}
    assert org.revoke_org_api_key(key.id).revoked is True
    me = neon.personal.users_me()
    assert me.id
    assert {o.id for o in neon.personal.my_organizations()} >= {org.org_id}
