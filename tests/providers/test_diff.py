"""`diff` makes no API calls and marks replaces, in-place updates and stables precisely."""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

from neon_tenants.providers._base import UNKNOWN
from neon_tenants.providers.dev_branch import DevBranchProvider
from neon_tenants.providers.snapshot import SnapshotProvider
from neon_tenants.providers.tenant_project import TenantProjectProvider

from . import _inputs as inp


def wire(d: dict[str, Any]) -> dict[str, Any]:
    """What comes back over gRPC: every number a float, secrets wrapped."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, bool) or v is None:
            out[k] = v
        elif isinstance(v, int | float):
            out[k] = float(v)
        elif k.endswith("connection_uri"):
            out[k] = rpc.wrap_rpc_secret(v)
        else:
            out[k] = v
    return out


def test_diff_unchanged_project_has_no_changes_even_over_the_wire() -> None:
    r = TenantProjectProvider().diff("p-1", wire(inp.project_state()), inp.project())
    assert r.changes is False and r.replaces == []


def test_diff_region_change_is_replace() -> None:
    r = TenantProjectProvider().diff("p-1", inp.project_state(),
                                     inp.project(region_id="aws-eu-central-1"))
    assert r.changes is True and r.replaces == ["region_id"]
    assert r.delete_before_replace is True and r.stables == []


def test_diff_pg_version_change_is_replace() -> None:
    r = TenantProjectProvider().diff("p-1", inp.project_state(), inp.project(pg_version=16))
    assert r.replaces == ["pg_version"]


def test_diff_tier_change_is_in_place_transfer() -> None:
    old = inp.project_state()
    new = inp.project(tier="pro", history_retention_seconds=86400)
    r = TenantProjectProvider().diff("p-1", old, new)
    assert r.changes is True and r.replaces == []
    assert "project_id" in r.stables


def test_diff_ignores_create_only_and_check_only_inputs() -> None:
    new = inp.project(first_attempt=True, adopt_project_id="p-other", limits=inp.limits("pro"))
    r = TenantProjectProvider().diff("p-1", inp.project_state(), new)
    assert r.changes is False


def test_diff_protected_toggle_is_in_place() -> None:
    r = TenantProjectProvider().diff("p-1", inp.project_state(), inp.project(protected=True))
    assert r.changes is True and r.replaces == []


def test_diff_quota_change_is_in_place() -> None:
    r = TenantProjectProvider().diff("p-1", wire(inp.project_state()),
                                     inp.project(logical_size_bytes=1024))
    assert r.changes is True and r.replaces == []


def test_diff_compute_change_is_in_place() -> None:
    r = TenantProjectProvider().diff("p-1", wire(inp.project_state()), inp.project(max_cu=1))
    assert r.changes is True and r.replaces == []


def test_diff_first_attempt_hint_is_never_a_change() -> None:
    r = TenantProjectProvider().diff("p-1", inp.project_state(first_attempt=True),
                                     inp.project(first_attempt=False))
    assert r.changes is False


def test_diff_unknown_project_is_a_change_not_a_replace() -> None:
    for unknown in (UNKNOWN, Unknown()):
        new = inp.branch(project_id=unknown, parent_branch_id=unknown)
        r = DevBranchProvider().diff("b", inp.branch(), new)
        assert r.changes is True and r.replaces == []


def test_diff_branch_new_project_is_replace() -> None:
    r = DevBranchProvider().diff("b", inp.branch(), inp.branch(project_id="p-2"))
    assert r.replaces == ["project_id"]


def test_diff_branch_reset_trigger_is_update_not_replace() -> None:
    old = {**inp.branch(), "branch_id": "br-2", "endpoint_id": "ep-2"}
    r = DevBranchProvider().diff("br-2", old, inp.branch(reset_trigger="t1"))
    assert r.changes is True and r.replaces == []
    assert set(r.stables) == {"branch_id", "endpoint_id"}


def test_diff_branch_new_parent_is_replace() -> None:
    old = inp.branch(parent="production")
    r = DevBranchProvider().diff("br-2", old, inp.branch(parent="dev", parent_branch_id="br-9"))
    assert r.replaces == ["parent"]
    # create adopts by name: the old branch must go first, or the delete removes the adoptee
    assert r.delete_before_replace is True


def test_diff_branch_parent_id_moved_by_a_restore_is_no_change() -> None:
    """A finalized snapshot restore gives the default branch a new id; the dev branch keeps
    its data and its Neon parent, so it must not be replaced (deleted) for that."""
    old = inp.branch(parent="production")
    r = DevBranchProvider().diff("br-2", old, inp.branch(parent="production",
                                                        parent_branch_id="br-9"))
    assert r.changes is False and r.replaces == []
    # state written before `parent` existed is not a replace either
    legacy = DevBranchProvider().diff("br-2", inp.branch(),
                                      inp.branch(parent="production", parent_branch_id="br-9"))
    assert legacy.changes is False and legacy.replaces == []


def test_diff_branch_point_in_time_change_is_replace() -> None:
    old = inp.branch(parent="production")
    r = DevBranchProvider().diff("br-2", old, inp.branch(parent="production",
                                                        parent_lsn="0/1A2B3C"))
    assert r.replaces == ["parent_lsn"]


def test_diff_branch_expiry_equal_instants_are_unchanged() -> None:
    p = DevBranchProvider()
    old = p.check({}, inp.branch(expires_at="2030-01-01T00:00:00+00:00")).inputs
    new = p.check({}, inp.branch(expires_at="2030-01-01T00:00:00Z")).inputs
    assert p.diff("br-2", old, new).changes is False


def test_diff_snapshot_timestamp_is_replace_but_source_branch_is_not() -> None:
    p = SnapshotProvider()
    r = p.diff("s", inp.snapshot(), inp.snapshot(timestamp="2020-01-01T00:00:00Z"))
    assert r.replaces == ["timestamp"] and r.delete_before_replace is True
    assert p.diff("s", inp.snapshot(), inp.snapshot(branch_id="br-restored")).changes is False


def test_diff_snapshot_restore_trigger_is_update() -> None:
    r = SnapshotProvider().diff("s", inp.snapshot(), inp.snapshot(restore_trigger="r1"))
    assert r.changes is True and r.replaces == []


def test_diff_unknown_replace_field_is_update_not_replace() -> None:
    r = DevBranchProvider().diff("b", inp.branch(), inp.branch(project_id=Unknown()))
    assert r.changes is True and r.replaces == []


def test_check_and_diff_never_build_a_client(monkeypatch: Any) -> None:
    import neon_tenants.providers._base as base

    def boom() -> None:
        raise AssertionError("check/diff must not call the API")

    monkeypatch.setattr(base, "provider_client", boom)
    p = TenantProjectProvider()
    news = p.check({}, inp.project()).inputs
    assert p.diff("p-1", inp.project_state(), news).changes is False
    assert p.diff("p-1", inp.project_state(), inp.project(pg_version=16)).replaces == [
        "pg_version"]


def test_diff_branch_unknown_parent_under_same_project_is_no_change() -> None:
    """The project updates in place: its id stays known, its default branch does not move."""
    r = DevBranchProvider().diff("b", inp.branch(), inp.branch(parent_branch_id=Unknown()))
    assert r.changes is False
    both = inp.branch(project_id=Unknown(), parent_branch_id=Unknown())
    assert DevBranchProvider().diff("b", inp.branch(), both).changes is True
