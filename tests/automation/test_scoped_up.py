"""A single-tenant operation touches only that tenant (issue #16): through the real engine and
the metadata emulator, every other tenant's state entries (the decrypted export byte for
byte; the raw state file too, but for the ciphertexts that every checkpoint write renews)
and stack outputs stay byte-for-byte the same, and a full preview of
the shard afterwards reports no change. Tenant ids that prefix each other are in the shard,
so the exact-URN targeting is what keeps `shop-branch-eu` out of `shop`'s run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import FleetManager
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from .conftest import Recorder, make_manager

pytestmark = [pytest.mark.engine]
TIER = "free"
OTHERS = ("shop", "shop-branch-eu", "a-project")


@pytest.fixture(scope="module")
def fm(metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("scoped")
    with make_manager(root, metadata_emulator, Recorder(), archive=False) as manager:
        seed = (TenantSpec(id="shop"), TenantSpec(id="shop-branch-eu"),
                TenantSpec(id="a-project"))
        save_fleet(manager.fleet_path(TIER), FleetSpec(tier=TIER, tenants=seed))
        manager.up(TIER)
        yield manager


def _state_file(fm: FleetManager) -> dict[str, Any]:
    root = Path(str(fm.backend_url).removeprefix("file://"))
    [path] = [p for p in root.rglob(f"{TIER}.json") if ".pulumi/stacks" in str(p)]
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _masked(value: Any) -> Any:
    """The file backend encrypts every secret again (fresh nonce) on each checkpoint write,
    touched or not: compare raw entries with ciphertexts masked, plaintexts in the export."""
    if isinstance(value, dict):
        return {k: ("<ciphertext>" if k == "ciphertext" else _masked(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _snapshot(fm: FleetManager, tenants: tuple[str, ...]) -> dict[str, str]:
    """Per tenant: its resources in the raw state file and in the decrypted export, and its
    stack output, each as canonical JSON."""
    raw = _masked(_state_file(fm)["checkpoint"]["latest"]["resources"])
    exported = fm.engine.stack(TIER).export_stack().deployment["resources"]
    outputs = fm.engine.outputs(TIER)
    out: dict[str, str] = {}
    for t in tenants:
        def mine(r: dict[str, Any], t: str = t) -> bool:
            return str(r["urn"]).endswith(f"::{t}") or str(r.get("parent", "")).endswith(
                f"::{t}")
        out[f"{t}/raw"] = json.dumps([r for r in raw if mine(r)], sort_keys=True)
        out[f"{t}/export"] = json.dumps([r for r in exported if mine(r)], sort_keys=True)
        out[f"{t}/output"] = json.dumps(outputs.get(t), sort_keys=True)
    return out


def _clean_full_preview(fm: FleetManager) -> None:
    assert fm.preview([TIER]).exit_code == 0


def test_provision_leaves_other_tenants_byte_for_byte(fm: FleetManager) -> None:
    before = _snapshot(fm, OTHERS)
    assert all(json.loads(v) for k, v in before.items() if k.endswith("/export"))
    conn = fm.provision("shop-new", TIER)
    assert conn.project_id
    assert _snapshot(fm, OTHERS) == before
    assert fm.engine.outputs(TIER)["shop-new"]["project_id"] == conn.project_id
    _clean_full_preview(fm)


def test_dev_branch_add_and_remove_touch_only_that_tenant(fm: FleetManager) -> None:
    others = tuple(t for t in (*OTHERS, "shop-new") if t != "shop")
    before = _snapshot(fm, others)
    fm.create_dev_branch("shop", "dev")
    urns = [r["urn"] for r in _state_file(fm)["checkpoint"]["latest"]["resources"]]
    assert any(u.endswith("::shop-branch-dev") for u in urns)
    fm.delete_dev_branch("shop", "dev")  # the removed child is targeted, so it is deleted
    urns = [r["urn"] for r in _state_file(fm)["checkpoint"]["latest"]["resources"]]
    assert not any(u.endswith("::shop-branch-dev") for u in urns)
    assert _snapshot(fm, others) == before
    _clean_full_preview(fm)


def test_delete_removes_the_tenant_and_its_output_only(fm: FleetManager) -> None:
    before = _snapshot(fm, OTHERS)
    fm.delete("shop-new")
    assert "shop-new" not in fm.engine.outputs(TIER)
    urns = [r["urn"] for r in _state_file(fm)["checkpoint"]["latest"]["resources"]]
    assert not any("::shop-new" in u for u in urns)
    assert _snapshot(fm, OTHERS) == before
    _clean_full_preview(fm)


def test_a_dev_branch_whose_create_neon_refused_can_be_deleted(fm: FleetManager) -> None:
    """Its create failed (Neon answers 404 for a parent deleted behind the fleet's back; the
    engine's summary does not always carry the provider's line), so the fleet declares a
    branch the state never held; deleting it must not target it."""
    from neon_tenants.automation import DeploymentFailed

    others = tuple(t for t in OTHERS if t != "a-project")
    before = _snapshot(fm, others)
    conn = fm.create_dev_branch("a-project", "base")
    fm.client.org("free").delete_branch(conn.project_id, conn.dev_branches["base"].branch_id)
    with pytest.raises(DeploymentFailed):  # the engine ran: Neon refused, no local rule
        fm.create_dev_branch("a-project", "child", parent="base")
    live = list(fm.client.org("free").iter_branches(conn.project_id))
    assert [b.default for b in live] == [True]  # neither `base` nor `child` in Neon
    spec = fm.store.get(TIER, "a-project")
    assert spec is not None and spec.dev_branch("child") is not None  # declared, not created
    assert not any(u.endswith("::a-project-branch-child") for u in _state_urns(fm))

    fm.delete_dev_branch("a-project", "child")
    fm.delete_dev_branch("a-project", "base")  # gone from Neon already: deleted from state
    spec = fm.store.get(TIER, "a-project")
    assert spec is not None and not spec.dev_branches
    assert not any("::a-project-branch-" in u for u in _state_urns(fm))
    assert _snapshot(fm, others) == before
    _clean_full_preview(fm)


def _state_urns(fm: FleetManager) -> list[str]:
    return [r["urn"] for r in _state_file(fm)["checkpoint"]["latest"]["resources"]]
