"""Bad input is refused before anything is written or called (422, the fleet file's bytes
unchanged), and tenants whose ids are prefixes of each other's resource names stay apart
in moves, deletes, previews and events. Real engine, metadata emulator, one shard per tier
(so `shop` and `shop-branch-eu` share a stack state)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import FleetManager, InvalidRequest, ResourceStep
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet
from neon_tenants.naming import tenants_in_state
from neon_tenants.tenant import DevBranchSpec

from .conftest import Recorder, make_manager, neon_client

pytestmark = [pytest.mark.engine, pytest.mark.slow]

PREFIXED = ["ab", "ab-project", "shop", "shop-branch-eu"]


@pytest.fixture(scope="module")
def rec() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def fm(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory, rec: Recorder
) -> Iterator[FleetManager]:
    root = tmp_path_factory.mktemp("rules")
    with make_manager(root, metadata_emulator, rec, archive=False) as manager:
        save_fleet(manager.fleet_path("free"),
                   FleetSpec(tier="free", tenants=tuple(TenantSpec(id=t) for t in PREFIXED)))
        manager.up("free")
        yield manager


def _requests(emu: Any) -> int:
    return int(emu.admin("GET", "state")["requests_total"])


def _bytes(fm: FleetManager) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(fm.fleet_path("free").parent.glob("*.yaml"))}


BAD: list[tuple[str, Any, list[str]]] = [
    ("reserved tenant id", lambda fm: fm.provision("admin", "free"), ["id", "reserved"]),
    ("tenant id syntax", lambda fm: fm.provision("Bad_Id", "free"), ["id", "a-z"]),
    ("unknown tier", lambda fm: fm.provision("fresh", "platinum"),
     ["tier", "free", "pro", "enterprise"]),
    ("reserved branch name", lambda fm: fm.create_dev_branch("shop", "main"),
     ["dev_branches[0].name", "reserved", "tier free"]),
    ("unknown quota key", lambda fm: fm.provision(
        "fresh", "free", TenantSpec(id="fresh", quota_overrides={"cpu_hours": 5})),
     ["quota_overrides.cpu_hours", "active_time_seconds", "tier free"]),
    ("quota above the tier", lambda fm: fm.provision(
        "fresh", "free", TenantSpec(id="fresh", quota_overrides={"logical_size_bytes": 10**12})),
     ["quota_overrides.logical_size_bytes", "536870912", "tier free"]),
    ("compute above the tier", lambda fm: fm.create_dev_branch("shop", "big", max_cu=8),
     ["dev_branches[0].max_cu", "0.25-2", "tier free"]),
    ("unknown branch setting", lambda fm: fm.create_dev_branch("shop", "x", colour="red"),
     ["colour", "tier free"]),
    ("branch cap", lambda fm: fm.provision("fresh", "free", TenantSpec(
        id="fresh", dev_branches=tuple(DevBranchSpec(name=f"d{i}") for i in range(10)))),
     ["dev_branches", "cap of 10", "tier free"]),
    ("point in time outside the window", lambda fm: fm.create_dev_branch(
        "shop", "past", parent_timestamp=datetime.now(UTC) - timedelta(days=3)),
     ["dev_branches[0].parent_timestamp", "retention window", "tier free", "86400"]),
]


@pytest.mark.parametrize(("case", "call", "needles"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_422_before_any_write_or_call(
    fm: FleetManager, metadata_emulator: Any, case: str, call: Any, needles: list[str]
) -> None:
    files, calls = _bytes(fm), _requests(metadata_emulator)
    with pytest.raises(InvalidRequest) as info:
        call(fm)
    assert info.value.http_status == 422
    for needle in needles:
        assert needle in str(info.value), (case, str(info.value))
    assert _bytes(fm) == files  # byte for byte
    # no Neon call was made (the counter call itself is not counted: admin routes)
    assert _requests(metadata_emulator) == calls


def test_after_bad_requests_the_shard_still_converges(fm: FleetManager) -> None:
    assert fm.preview(["free"]).exit_code == 0
    assert sorted(t.id for t in fm.fleet("free").tenants) == PREFIXED


def _owned(fm: FleetManager, stack: str) -> dict[str, set[str]]:
    resources = fm.engine.workspace.export_stack(stack).deployment["resources"]
    out: dict[str, set[str]] = {}
    for urn, tenant in tenants_in_state(resources).items():
        out.setdefault(tenant, set()).add(urn)
    return out


def test_prefix_tenants_survive_a_move_and_a_delete_of_their_neighbour(
    fm: FleetManager, metadata_emulator: Any, rec: Recorder
) -> None:
    before = _owned(fm, "free")
    # component + project per tenant (quota and compute are fields of the project)
    assert {t: len(u) for t, u in before.items()} == {t: 2 for t in PREFIXED}
    conns = fm.connections("free")

    rec.events.clear()
    moved = fm.upgrade("shop", "pro")
    assert moved.project_id == conns["shop"].project_id
    after = _owned(fm, "free")
    assert "shop" not in after
    for other in ("ab", "ab-project", "shop-branch-eu"):
        assert after[other] == before[other]
    steps = [e for e in rec.events if isinstance(e, ResourceStep)]
    assert steps and {e.tenant for e in steps if e.tenant} == {"shop"}

    rec.events.clear()
    fm.delete("shop")
    fm.delete("ab")
    steps = [e for e in rec.events if isinstance(e, ResourceStep)]
    # the pro stack's default provider goes with its last tenant: owned by no tenant
    assert {e.tenant for e in steps if e.op == "delete" and e.tenant} == {"shop", "ab"}
    assert not [e for e in steps if e.op == "delete" and "shop-branch-eu" in e.urn]
    left = _owned(fm, "free")
    assert set(left) == {"ab-project", "shop-branch-eu"}
    assert left["shop-branch-eu"] == before["shop-branch-eu"]
    assert left["ab-project"] == before["ab-project"]

    with neon_client(metadata_emulator) as client:
        live = {p.id for p in client.org("free").iter_projects()}
    assert conns["shop-branch-eu"].project_id in live
    assert conns["ab-project"].project_id in live
    assert conns["ab"].project_id not in live
    diff = fm.preview(["free", "pro"])
    assert diff.exit_code == 0, diff.to_markdown()
    assert fm.show("shop-branch-eu").project_id == conns["shop-branch-eu"].project_id


def test_upgrade_refuses_a_smaller_tier(fm: FleetManager, tmp_path: Path) -> None:
    fm.upgrade("ab-project", "pro")
    files = _bytes(fm)
    with pytest.raises(InvalidRequest) as info:
        fm.upgrade("ab-project", "free")
    assert info.value.http_status == 422
    assert "use downgrade" in str(info.value) and "branch_cap" in str(info.value)
    assert _bytes(fm) == files
    assert fm.locate("ab-project") is not None
    assert fm.locate("ab-project")[0].tier == "pro"  # type: ignore[index]


def test_preview_of_a_hand_moved_entry_is_a_data_losing_replacement_unless_it_adopts(
    fm: FleetManager,
) -> None:
    """Moving a fleet entry from free.yaml to pro.yaml by hand makes `up` create a new empty
    project and delete the old one: the preview says so, first; the same move adopting the
    project (what FleetManager.upgrade writes) is a transfer of the same project."""
    free, pro = fm.fleet("free"), fm.fleet("pro")
    spec = free.require("shop-branch-eu")
    pid = fm.show("shop-branch-eu").project_id
    try:
        save_fleet(fm.fleet_path("free"), free.without_tenant("shop-branch-eu"))
        save_fleet(fm.fleet_path("pro"), pro.with_tenant(spec))
        lossy = fm.preview(["free", "pro"])
        assert [(m.tenant, m.same_project) for m in lossy.moves] == [("shop-branch-eu", False)]
        md = lossy.to_markdown()
        assert md.index("a NEW EMPTY project") < md.index("| change |")
        assert "| **replaced (data loss)** | `shop-branch-eu` | free → pro |" in md

        adopting = spec.model_copy(update={"adopt_project_id": pid})
        save_fleet(fm.fleet_path("pro"), pro.with_tenant(adopting))
        moved = fm.preview(["free", "pro"])
        assert [(m.tenant, m.same_project) for m in moved.moves] == [("shop-branch-eu", True)]
        assert "| moved | `shop-branch-eu` | free → pro |" in moved.to_markdown()
    finally:
        save_fleet(fm.fleet_path("free"), free)
        save_fleet(fm.fleet_path("pro"), pro)
    assert fm.preview(["free", "pro"]).exit_code == 0


def test_show_carries_pooled_uri_neon_auth_keys_and_data_api_url(fm: FleetManager) -> None:
    conn = fm.provision("authy", "pro", TenantSpec(id="authy", neon_auth=True, data_api=True))
    assert conn.pooled_connection_uri.get_secret_value().startswith("postgres")
    assert conn.default_uri == conn.pooled_connection_uri
    assert conn.pooled_connection_uri != conn.connection_uri
    assert conn.neon_auth is not None and conn.neon_auth.pub_client_key
    secret = conn.neon_auth.secret_server_key.get_secret_value()
    assert secret
    assert conn.data_api_url and conn.data_api_url.startswith("http")
    shown = fm.show("authy")
    assert shown.neon_auth == conn.neon_auth  # kept in state across runs
    public = repr(shown) + str(shown.public())
    assert secret not in public
    assert conn.connection_uri.get_secret_value() not in public
    # a later run (an unrelated change) keeps the keys Neon returned only once
    again = fm.create_dev_branch("authy", "dev")
    assert again.neon_auth == conn.neon_auth
    assert set(again.dev_branches) == {"dev"}
    assert again.dev_branches["dev"].connection_uri.get_secret_value().startswith("postgres")


def test_a_refused_downgrade_transfer_puts_the_settings_back(
    fm: FleetManager, metadata_emulator: Any
) -> None:
    """Usage fits, so the history window is lowered for the free org, but Neon refuses the
    transfer (a GitHub integration, 422): the window is put back and nothing else moved."""
    from neon_tenants.automation import TransferBlocked

    conn = fm.provision("back-off", "pro")
    metadata_emulator.admin("POST", f"projects/{conn.project_id}/integration",
                            {"integration": "github"})
    files = _bytes(fm)
    with neon_client(metadata_emulator) as client:
        org = client.org("paid")
        assert org.get_project(conn.project_id).history_retention_seconds == 604800
        with pytest.raises(TransferBlocked) as info:
            fm.downgrade("back-off", "free")
        project = org.get_project(conn.project_id)
    assert info.value.http_status == 422 and conn.project_id in str(info.value)
    assert project.org_id == conn.org_id
    assert project.history_retention_seconds == 604800  # put back
    assert _bytes(fm) == files
    assert fm.locate("back-off")[0].tier == "pro"  # type: ignore[index]
    metadata_emulator.admin("POST", f"projects/{conn.project_id}/integration",
                            {"integration": None})
