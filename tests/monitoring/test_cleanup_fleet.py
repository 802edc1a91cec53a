"""Inactive-tenant cleanup through the fleet, with notices (issue 13; issue 10 item 7).

Real engine, metadata emulator: three tenants provisioned through FleetManager (one `up` for
all of them), idle for 40 days (the emulator's admin usage route sets
`compute_last_active_at`). Notices go through the same delivery as quota alerts (a real local
webhook receiver); one tenant becomes active again and its notice is cancelled; the other is
deleted through `FleetManager.delete` only after its date: fleet file, stack outputs and Neon
agree afterwards; the protected one is never noticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from neon_tenants.automation import FleetManager
from neon_tenants.client.errors import NotFound
from neon_tenants.fleet.spec import FleetSpec, TenantSpec, save_fleet
from neon_tenants.monitoring.cleanup import CleanupPolicy
from neon_tenants.monitoring.delivery import WebhookConfig
from neon_tenants.monitoring.models import Event
from neon_tenants.monitoring.readings import iso
from neon_tenants.monitoring.wiring import build_service
from tests.automation.conftest import Recorder, make_manager, neon_client
from tests.monitoring.receiver import webhook_receiver

pytestmark = [pytest.mark.engine]


@pytest.fixture(scope="module")
def fleet(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FleetManager]:
    root = tmp_path_factory.mktemp("cleanup-fleet")
    # a metadata-only emulator has no database to dump: no archive step (test below has one)
    with make_manager(root, metadata_emulator, Recorder(), archive=False) as fm:
        tenants = (TenantSpec(id="idle-back"), TenantSpec(id="idle-gone"),
                   TenantSpec(id="idle-kept", protected=True))
        save_fleet(fm.fleet_path("free"), FleetSpec(tier="free", tenants=tenants))
        fm.up("free")
        yield fm


def test_notice_cancel_and_delete_after_the_date_through_the_fleet(
    fleet: FleetManager, metadata_emulator: Any, tmp_path: Path
) -> None:
    conns = fleet.connections("free")
    assert set(conns) == {"idle-back", "idle-gone", "idle-kept"}
    real_now = datetime.now(UTC)
    for conn in conns.values():
        metadata_emulator.admin("PUT", f"projects/{conn.project_id}/usage", json={
            "compute_last_active_at": iso(real_now - timedelta(days=40))})
    clock = [real_now]
    got: list[Event] = []
    with webhook_receiver() as hook:
        svc = build_service(
            fleet, store_dir=tmp_path, callbacks=[got.append],
            webhook=WebhookConfig(url=hook.url, secret=SecretStr("k"), backoff_initial=0.01),
            cleanup=CleanupPolicy(inactive_days=30, notice_days=7), now=lambda: clock[0],
        )  # fmt: skip

        svc.run_once()  # day 0: two notices (the protected tenant gets none)
        notices = {e.tenant: e for e in got if e.kind == "cleanup_notice"}
        assert set(notices) == {"idle-back", "idle-gone"}
        assert notices["idle-gone"].detail["delete_after"] == iso(real_now + timedelta(days=7))
        sent = {json.loads(r.body)["tenant"] for r in hook.accepted}
        assert sent == {"idle-back", "idle-gone"}  # through the same webhook delivery

        # idle-back is used again; a day later its notice is cancelled, nothing is deleted
        metadata_emulator.admin("PUT", f"projects/{conns['idle-back'].project_id}/usage",
                                json={"compute_last_active_at": iso(real_now)})
        clock[0] = real_now + timedelta(days=1)
        svc.run_once()
        assert [(e.kind, e.tenant) for e in got[2:]] == [("cleanup_cancelled", "idle-back")]
        assert "idle-gone" in {t.id for t in fleet.fleet("free").tenants}

        clock[0] = real_now + timedelta(days=6, hours=23)  # still before the date
        svc.run_once()
        assert len(got) == 3

        clock[0] = real_now + timedelta(days=7, minutes=1)  # past the date: deleted
        svc.run_once()
        assert [(e.kind, e.tenant) for e in got[3:]] == [("cleanup_deleted", "idle-gone")]

    # fleet file, stack state and Neon agree: only idle-gone is gone
    assert {t.id for t in fleet.fleet("free").tenants} == {"idle-back", "idle-kept"}
    assert set(fleet.connections("free")) == {"idle-back", "idle-kept"}
    with neon_client(metadata_emulator) as neon:
        org = neon.org("free")
        with pytest.raises(NotFound):
            org.get_project(conns["idle-gone"].project_id)
        for name in ("idle-back", "idle-kept"):
            assert org.get_project(conns[name].project_id).id == conns[name].project_id
    assert svc.store.notices()["idle-gone"].status == "deleted"
    assert svc.store.notices()["idle-back"].status == "cancelled"
    assert "idle-kept" not in svc.store.notices()


def test_cli_watch_once_then_export_read_tenants_from_the_fleet(
    fleet: FleetManager, metadata_emulator: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from neon_tenants.cli.monitor_cmds import monitor_app

    for key, value in {**metadata_emulator.client_env,
                       "NEON_TENANTS_STACKS_DIR": str(fleet.stacks_dir),
                       "PULUMI_BACKEND_URL": str(fleet.backend_url)}.items():
        monkeypatch.setenv(key, value)
    conns = fleet.connections("free")
    metadata_emulator.admin("PUT", f"projects/{conns['idle-back'].project_id}/usage",
                            json={"active_time_seconds": 350_000})  # 97 % of the free tier
    runner = CliRunner()
    store = str(tmp_path / "store")
    result = runner.invoke(monitor_app, ["watch", "--once", "--json", "--store", store])
    assert result.exit_code == 0, result.output
    cycle = json.loads(result.stdout)
    assert cycle["tenants"] == cycle["readings"] == len(conns)
    assert cycle["events"] == 2 and cycle["requests"]["GET /projects"] >= 1

    result = runner.invoke(monitor_app, ["export", "--format", "json", "--store", store])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {r["tenant"] for r in body["rows"]} == set(conns)
    assert {r["tier"] for r in body["rows"]} == {"free"}
    assert body["totals"] == [{"cost": "0.000000", "tenants": len(conns), "tier": "free"}]


def test_raise_quota_policy_moves_a_suspended_tenant_to_the_next_tier(
    fleet: FleetManager, metadata_emulator: Any, tmp_path: Path
) -> None:
    from neon_tenants.monitoring import AlertRules

    before = fleet.show("idle-back")
    out = metadata_emulator.admin("PUT", f"projects/{before.project_id}/usage",
                                  json={"active_time_seconds": 360_000})  # free's whole quota
    assert out["quota_exceeded"] == "active_time_seconds"
    got: list[Event] = []
    svc = build_service(fleet, store_dir=tmp_path, callbacks=[got.append],
                        rules=AlertRules(suspended={"free": "raise_quota"}))
    svc.run_once()
    kinds = [(e.kind, e.tenant, e.detail.get("to_tier")) for e in got
             if e.kind.startswith("quota_s") or e.kind.startswith("quota_r")]
    assert kinds == [("quota_suspended", "idle-back", None),
                     ("quota_raised", "idle-back", "pro")]
    after = fleet.show("idle-back")
    assert (after.tier, after.project_id) == ("pro", before.project_id)  # same project
    assert "idle-back" in {t.id for t in fleet.fleet("pro").tenants}
    state = metadata_emulator.admin("GET", f"projects/{before.project_id}/quota")
    assert state["active_time_seconds"] == 2_700_000  # pro's quota now applies
    again = metadata_emulator.admin("PUT", f"projects/{before.project_id}/usage", json={})
    assert again["quota_exceeded"] is None  # Neon lifted the suspension
    # the other protected free tenant was never suspended: untouched
    assert "idle-kept" in {t.id for t in fleet.fleet("free").tenants}
