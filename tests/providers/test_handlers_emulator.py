"""The handlers (no engine) against the emulator's metadata backend: fast end-to-end proof.

Calls create/read/update/delete the way the engine does, with the environment the engine
would pass (NEON_API_BASE_URL, NEON_CREDENTIALS_FILE).
"""

from __future__ import annotations

from typing import Any

import pytest

from neon_tenants.providers.dev_branch import DevBranchProvider
from neon_tenants.providers.snapshot import SnapshotProvider
from neon_tenants.providers.tenant_project import TenantProjectProvider

from . import _inputs as inp


@pytest.fixture
def neon_env(metadata_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from neon_tenants.client import NeonClient
    from neon_tenants.providers._client import close_provider_client

    monkeypatch.setenv("NEON_API_BASE_URL", metadata_emulator.base_url)
    monkeypatch.setenv("NEON_CREDENTIALS_FILE", str(metadata_emulator.credentials_file))
    close_provider_client()  # the provider process's one client: built from this env
    with NeonClient.from_env() as client:
        yield client
    close_provider_client()


def calls(emulator: Any) -> dict[str, int]:
    return dict(emulator.admin("GET", "state")["requests"])


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


def checked(provider: Any, news: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, news)
    assert result.failures == []
    return dict(result.inputs)


def test_project_lifecycle_read_has_no_drift_and_transfer_keeps_id(neon_env: Any) -> None:
    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-lifecycle"))
    created = p.create(news)
    assert created.outs["connection_uri"]["value"].startswith("postgresql://")
    read = p.read(created.id, created.outs)
    assert p.diff(created.id, read.outs, news).changes is False
    pro = checked(p, inp.project(name="h-lifecycle", tier="pro"))
    updated = p.update(created.id, created.outs, pro)
    paid = neon_env.org("paid")
    assert updated.outs["org_id"] == paid.org_id == paid.get_project(created.id).org_id
    p.delete(created.id, updated.outs)
    assert paid.find_project_by_name("h-lifecycle") is None


def test_create_adopts_project_with_same_name_instead_of_duplicating(neon_env: Any) -> None:
    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-adopt"))
    first = p.create(news)
    second = p.create(news)  # a rerun after a crash between create and state write
    assert second.id == first.id
    assert [x.id for x in neon_env.org("free").iter_projects(search="h-adopt")] == [first.id]
    by_id = p.create(checked(p, inp.project(name="h-adopt2", adopt_project_id=first.id)))
    assert by_id.id == first.id
    assert neon_env.org("free").get_project(first.id).name == "h-adopt2"
    p.delete(first.id, first.outs)


def test_protected_project_refuses_delete(neon_env: Any) -> None:
    p = TenantProjectProvider()
    created = p.create(checked(p, inp.project(name="h-protected", protected=True)))
    with pytest.raises(Exception, match="protected"):
        p.delete(created.id, created.outs)
    assert neon_env.org("free").get_project(created.id).id == created.id
    p.delete(created.id, {**created.outs, "protected": False})


def test_quota_console_edit_shows_as_drift(neon_env: Any) -> None:
    from neon_tenants.client.models.projects import ProjectQuota, ProjectSettings, ProjectUpdate

    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-quota"))
    proj = p.create(news)
    pid = proj.id
    assert neon_env.org("free").get_project(pid).settings["quota"]["logical_size_bytes"] == (
        536870912)  # sent in the create request
    neon_env.org("free").update_project(pid, ProjectUpdate(settings=ProjectSettings(
        quota=ProjectQuota(logical_size_bytes=1))))
    drift = p.read(pid, proj.outs)
    assert drift.outs["logical_size_bytes"] == 1
    assert p.diff(pid, drift.outs, news).changes is True
    p.update(pid, drift.outs, news)
    assert neon_env.org("free").get_project(pid).settings["quota"]["logical_size_bytes"] == (
        536870912)
    p.delete(pid, proj.outs)


def test_first_create_is_one_post_with_quota_and_outputs_from_the_reply(
    neon_env: Any, metadata_emulator: Any
) -> None:
    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-first", first_attempt=True))
    before = calls(metadata_emulator)
    created = p.create(news)
    made = delta(before, calls(metadata_emulator))
    # no list-by-name, no add-on reads (both off), no quota PATCH, no read-back of branch,
    # endpoint or URIs: the POST and the polls of its operations
    assert set(made) == {"POST /projects", "GET /projects/{project_id}/operations/{operation_id}"}
    assert made["POST /projects"] == 1
    api = neon_env.org("free")
    project = api.get_project(created.id)
    assert project.settings["quota"]["active_time_seconds"] == 360000
    assert project.default_endpoint_settings["suspend_timeout_seconds"] == 300
    outs = created.outs
    branch = next(b for b in api.iter_branches(created.id) if b.default)
    assert outs["default_branch_id"] == branch.id
    direct = api.connection_uri(created.id, "neondb", "neondb_owner", branch_id=branch.id)
    pooled = api.connection_uri(created.id, "neondb", "neondb_owner", branch_id=branch.id,
                                pooled=True)
    assert outs["connection_uri"]["value"] == direct.get_secret_value()
    assert outs["pooled_connection_uri"]["value"] == pooled.get_secret_value()
    # what a later refresh reads is what the reply said: no drift
    assert p.diff(created.id, p.read(created.id, outs).outs, news).changes is False
    p.delete(created.id, outs)


def test_first_create_whose_reply_is_lost_adopts_instead_of_duplicating(
    neon_env: Any, metadata_emulator: Any
) -> None:
    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-first-lost", first_attempt=True))
    rule = {"route": "POST /projects", "error_rate": 1.0, "drop_after_act": True, "times": 1}
    metadata_emulator.admin("PUT", "faults", {"faults": [rule]})
    try:
        created = p.create(news)
    finally:
        metadata_emulator.admin("PUT", "faults", {"faults": []})
    found = [x.id for x in neon_env.org("free").iter_projects(search="h-first-lost")]
    assert found == [created.id]
    assert neon_env.org("free").get_project(created.id).settings["quota"][
        "logical_size_bytes"] == 536870912
    p.delete(created.id, created.outs)


def test_rerun_after_a_crash_without_the_hint_adopts_the_project(neon_env: Any) -> None:
    """The engine was killed after the POST: the rerun (no `first_attempt`) finds it."""
    p = TenantProjectProvider()
    first = p.create(checked(p, inp.project(name="h-crash", first_attempt=True)))
    rerun = p.create(checked(p, inp.project(name="h-crash", max_cu=1)))
    assert rerun.id == first.id
    assert [x.id for x in neon_env.org("free").iter_projects(search="h-crash")] == [first.id]
    ep = neon_env.org("free").get_endpoint(first.id, rerun.outs["endpoint_id"])
    assert ep.autoscaling_limit_max_cu == 1  # the rerun's settings were applied
    p.delete(first.id, rerun.outs)


def test_upgrade_transfers_and_patches_once_without_add_on_reads(
    neon_env: Any, metadata_emulator: Any
) -> None:
    p = TenantProjectProvider()
    created = p.create(checked(p, inp.project(name="h-upgrade", first_attempt=True)))
    pro = checked(p, inp.project(name="h-upgrade", tier="pro", suspend_timeout_seconds=0,
                                 history_retention_seconds=604800))
    before = calls(metadata_emulator)
    updated = p.update(created.id, created.outs, pro)
    made = delta(before, calls(metadata_emulator))
    assert made["PATCH /projects/{project_id}"] == 1
    assert made["POST /organizations/{source_org_id}/projects/transfer"] == 1
    assert not [r for r in made if "auth" in r or "data-api" in r]
    paid = neon_env.org("paid")
    project = paid.get_project(created.id)
    assert project.settings["quota"]["active_time_seconds"] == 2700000
    assert project.history_retention_seconds == 604800
    ep = paid.get_endpoint(created.id, updated.outs["endpoint_id"])
    assert ep.suspend_timeout_seconds == 0
    assert updated.outs["connection_uri"] == created.outs["connection_uri"]
    p.delete(created.id, updated.outs)


def test_branch_drift_reset_and_snapshot_rotation(neon_env: Any) -> None:
    p, b, s = TenantProjectProvider(), DevBranchProvider(), SnapshotProvider()
    proj = p.create(checked(p, inp.project(name="h-branch")))
    pid, main = proj.id, proj.outs["default_branch_id"]
    bin_ = checked(b, inp.branch(project_id=pid, parent_branch_id=main,
                                 suspend_timeout_seconds=0))
    br = b.create(bin_)
    assert b.create(bin_).id == br.id  # found by name, not duplicated
    ep = neon_env.org("free").get_endpoint(pid, br.outs["endpoint_id"])
    assert ep.suspend_timeout_seconds == 0
    b.update(br.id, br.outs, {**bin_, "reset_trigger": "r1"})
    s1 = s.create(checked(s, inp.snapshot(project_id=pid, branch_id=main, name="v1")))
    s2 = s.create(checked(s, inp.snapshot(project_id=pid, branch_id=main, name="v2")))
    names = [x.name for x in neon_env.org("free").list_snapshots(pid)]
    assert names == ["v2"]  # free tier cap 1, policy "replace"
    assert s.read(s1.id, s1.outs).id == ""
    neon_env.org("free").delete_branch(pid, br.id)
    assert b.read(br.id, br.outs).id == ""  # drift: the engine drops it, next up recreates
    s.delete(s2.id, s2.outs)
    p.delete(pid, proj.outs)


def test_snapshot_restore_trigger_reports_new_branch_and_drops_old(neon_env: Any) -> None:
    p, s = TenantProjectProvider(), SnapshotProvider()
    proj = p.create(checked(p, inp.project(name="h-restore")))
    pid, main = proj.id, proj.outs["default_branch_id"]
    snap_in = checked(s, inp.snapshot(project_id=pid, branch_id=main, name="before"))
    snap = s.create(snap_in)
    assert snap.outs["active_branch_id"] == main
    restored = s.update(snap.id, snap.outs, {**snap_in, "restore_trigger": "r1"})
    new_branch = restored.outs["active_branch_id"]
    assert new_branch != main
    api = neon_env.org("free")
    branches = {b.id: b.name for b in api.iter_branches(pid)}
    assert new_branch in branches and main not in branches
    assert not any(n.endswith("(old)") for n in branches.values())
    # the project follows the new default branch on refresh
    assert p.read(pid, proj.outs).outs["default_branch_id"] == new_branch
    p.delete(pid, proj.outs)


def test_dev_branch_neon_auth_and_data_api_toggle(neon_env: Any) -> None:
    p, b = TenantProjectProvider(), DevBranchProvider()
    proj = p.create(checked(p, inp.project(name="h-addons")))
    pid, main = proj.id, proj.outs["default_branch_id"]
    off = checked(b, inp.branch(project_id=pid, parent_branch_id=main))
    br = b.create({**off, "neon_auth": True, "data_api": True})
    api = neon_env.org("free")
    assert api.get_neon_auth(pid, br.id).branch_id == br.id
    assert br.outs["data_api_url"] == api.get_data_api(pid, br.id, "neondb").url
    read = b.read(br.id, br.outs)
    assert (read.outs["neon_auth"], read.outs["data_api"]) == (True, True)
    after = b.update(br.id, br.outs, off)
    assert after.outs["data_api_url"] is None
    assert b.read(br.id, after.outs).outs["neon_auth"] is False
    p.delete(pid, proj.outs)


def test_snapshot_outside_history_window_fails_before_any_call(neon_env: Any) -> None:
    s = SnapshotProvider()
    news = checked(s, inp.snapshot(project_id="p-none", timestamp="2001-01-01T00:00:00Z"))
    with pytest.raises(Exception, match="older than the 86400 s history window of tier free"):
        s.create(news)


def test_project_moved_out_of_band_is_found_and_moved_back(neon_env: Any) -> None:
    p = TenantProjectProvider()
    news = checked(p, inp.project(name="h-moved"))
    created = p.create(news)
    free, paid = neon_env.org("free"), neon_env.org("paid")
    neon_env.personal.transfer_projects(free.org_id, paid.org_id, [created.id])
    read = p.read(created.id, created.outs)
    assert read.id == created.id and read.outs["org"] == "paid"
    assert p.diff(created.id, read.outs, news).changes is True
    back = p.update(created.id, read.outs, news)
    assert back.outs["org_id"] == free.org_id == free.get_project(created.id).org_id
    p.delete(created.id, back.outs)


def test_snapshot_create_reconciles_a_lost_reply(neon_env: Any, metadata_emulator: Any) -> None:
    import httpx

    p, s = TenantProjectProvider(), SnapshotProvider()
    proj = p.create(checked(p, inp.project(name="h-lost-reply")))
    pid, main = proj.id, proj.outs["default_branch_id"]
    faults = f"{metadata_emulator.root_url}/_emulator/faults"
    rule = {"route": "POST */snapshot", "error_rate": 1.0, "drop_after_act": True, "times": 1}
    httpx.put(faults, json={"faults": [rule]}).raise_for_status()
    try:
        snap = s.create(checked(s, inp.snapshot(project_id=pid, branch_id=main, name="lost")))
    finally:
        httpx.put(faults, json={"faults": []}).raise_for_status()
    listed = neon_env.org("free").list_snapshots(pid)
    assert [(x.id, x.name) for x in listed] == [(snap.id, "lost")]
    p.delete(pid, proj.outs)


def test_handlers_of_a_run_share_one_client_and_one_rate_limiter(
    neon_env: Any, metadata_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#10 item 9: the engine calls handlers from a thread pool; every call of the provider
    process goes through ONE client, so ONE limiter counts every request against the key's
    700/min (a client per call would give each resource a fresh budget)."""
    from concurrent.futures import ThreadPoolExecutor

    from neon_tenants.client._ratelimit import RateLimiter
    from neon_tenants.providers import _client

    built: list[object] = []
    real_build = _client._build

    def counting_build() -> Any:
        client = real_build()
        built.append(client)
        return client

    limiters: dict[int, int] = {}
    real_acquire = RateLimiter.acquire

    def counting_acquire(self: RateLimiter, account: str, route: str) -> float:
        limiters[id(self)] = limiters.get(id(self), 0) + 1
        return real_acquire(self, account, route)

    monkeypatch.setattr(_client, "_build", counting_build)
    monkeypatch.setattr(RateLimiter, "acquire", counting_acquire)
    p, b = TenantProjectProvider(), DevBranchProvider()
    before = calls(metadata_emulator)

    def lifecycle(n: int) -> None:
        created = p.create(checked(p, inp.project(name=f"h-shared-{n}")))
        branch = b.create(checked(b, inp.branch(
            project_id=created.id, parent_branch_id=created.outs["default_branch_id"],
            name=f"dev-{n}")))
        b.delete(branch.id, branch.outs)
        p.delete(created.id, created.outs)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lifecycle, range(4)))

    sent = sum(delta(before, calls(metadata_emulator)).values())
    assert len(built) == 1, f"{len(built)} clients built for one provider process"
    assert len(limiters) == 1, f"{len(limiters)} rate limiters for one provider process"
    assert list(limiters.values()) == [sent]  # every request the emulator saw was counted
