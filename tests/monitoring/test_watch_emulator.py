"""The usage service end to end against the metadata emulator and a real local webhook
receiver: counters set through the emulator's admin usage route, read back by the poller,
alerts raised once per metric, level and period, signed, retried, logged."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from neon_tenants.catalog import load_catalog
from neon_tenants.client import NeonClient, NeonCredentials
from neon_tenants.monitoring.delivery import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    CallbackSink,
    Dispatcher,
    WebhookConfig,
    WebhookSink,
)
from neon_tenants.monitoring.directory import static_directory
from neon_tenants.monitoring.models import Event
from neon_tenants.monitoring.poller import Pacing, Poller, PollerConfig, make_client
from neon_tenants.monitoring.readings import TenantRef
from neon_tenants.monitoring.service import UsageService
from neon_tenants.monitoring.store import FileUsageStore
from tests.monitoring.conftest import MakeProject
from tests.monitoring.receiver import webhook_receiver

SECRET = "s3cret-for-tests"


def build(emulator: Any, root: Path, refs: list[TenantRef], sinks: list[Any],
          **config: Any) -> UsageService:
    creds = NeonCredentials.from_file(emulator.credentials_file)
    cfg = PollerConfig(**config)
    pacing = Pacing(cfg)
    client, transport = make_client(creds, emulator.base_url, pacing)
    store = FileUsageStore(root)
    poller = Poller(client, transport, static_directory(refs), store, load_catalog(), cfg,
                    pacing=pacing)
    dispatcher = Dispatcher(store, sinks, backoff_initial=0.01, backoff_max=0.05)
    return UsageService(poller, store, dispatcher)


def set_usage(emulator: Any, project_id: str, **counters: Any) -> dict[str, Any]:
    out: dict[str, Any] = emulator.admin("PUT", f"projects/{project_id}/usage", json=counters)
    return out


def signature_ok(received: Any) -> bool:
    """Checked here from first principles (not with the code under test)."""
    fields = dict(p.split("=", 1) for p in received.headers[SIGNATURE_HEADER].split(","))
    mac = hmac.new(SECRET.encode(), f"{fields['t']}.".encode() + received.body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


@pytest.fixture
def free_tenant(make_project: MakeProject, prefix: str) -> TenantRef:
    created = make_project("alpha", "free", active_time_seconds=1000,
                           data_transfer_bytes=10**9, logical_size_bytes=10**9)
    return TenantRef(tenant=f"{prefix}-alpha", tier="free", project_id=created.project.id,
                     org="free")


def test_80_then_95_raise_two_alerts_each_delivered_once_signed_after_a_500(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path
) -> None:
    got: list[Event] = []
    with webhook_receiver(script=[500]) as hook:
        webhook = WebhookSink(WebhookConfig(url=hook.url, secret=SecretStr(SECRET)))
        svc = build(metadata_emulator, tmp_path, [free_tenant], [webhook, CallbackSink(got.append)])
        pid = free_tenant.project_id

        set_usage(metadata_emulator, pid, active_time_seconds=500)
        first = svc.run_once()
        assert first.events == 0 and hook.got == []

        set_usage(metadata_emulator, pid, active_time_seconds=850)  # 85 %
        report = svc.run_once()
        svc.run_once()  # same period, same level: silent
        set_usage(metadata_emulator, pid, active_time_seconds=900)
        svc.run_once()  # still warning
        set_usage(metadata_emulator, pid, active_time_seconds=960)  # 96 %
        svc.run_once()
        svc.run_once()

    # the free org's plan is not served by consumption v2: 403, counted, not fatal
    assert report.orgs_without_consumption == ["free"]
    assert report.requests["GET /projects"] >= 1
    assert report.consumption_requests == 1
    # exactly two events, warning then critical, each accepted once by the receiver
    assert [(e.metric, e.level) for e in got] == [
        ("active_time_seconds", "warning"), ("active_time_seconds", "critical")]
    assert len(hook.got) == 3 and hook.got[0].status == 500
    accepted = hook.accepted
    assert [r.headers[EVENT_HEADER] for r in accepted] == [e.id for e in got]
    assert all(signature_ok(r) for r in hook.got)
    bodies = [json.loads(r.body) for r in accepted]
    assert [(b["tenant"], b["tier"], b["level"], b["percent"]) for b in bodies] == [
        (free_tenant.tenant, "free", "warning", 85.0), (free_tenant.tenant, "free", "critical",
                                                        96.0)]
    # the delivery log has the failed attempt and the two successes
    log = [(d.sink, d.attempt, d.ok, d.status) for d in svc.store.deliveries()
           if d.sink == "webhook"]
    assert log == [("webhook", 1, False, 500), ("webhook", 2, True, 200),
                   ("webhook", 1, True, 200)]
    assert svc.store.pending() == []


def test_alert_state_survives_a_restart(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path
) -> None:
    got: list[Event] = []
    set_usage(metadata_emulator, free_tenant.project_id, active_time_seconds=990)
    build(metadata_emulator, tmp_path, [free_tenant], [CallbackSink(got.append)]).run_once()
    assert len(got) == 2
    # a new process on the same store: nothing raised twice
    build(metadata_emulator, tmp_path, [free_tenant], [CallbackSink(got.append)]).run_once()
    assert len(got) == 2


def test_undelivered_events_stay_in_the_outbox_until_the_receiver_recovers(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path
) -> None:
    set_usage(metadata_emulator, free_tenant.project_id, active_time_seconds=820)
    with webhook_receiver(script=[503] * 5) as hook:
        webhook = WebhookSink(WebhookConfig(url=hook.url, secret=SecretStr(SECRET)))
        svc = build(metadata_emulator, tmp_path, [free_tenant], [webhook])
        report = svc.run_once()
        assert report.webhook_failures == 1 and len(svc.store.pending()) == 1
        again = svc.run_once()  # the receiver answers 200 now
        assert again.webhook_failures == 0 and svc.store.pending() == []
    assert len(hook.accepted) == 1 and len(hook.got) == 6


def test_quota_suspended_tenant_raises_its_own_alert(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path, neon: NeonClient
) -> None:
    got: list[Event] = []
    svc = build(metadata_emulator, tmp_path, [free_tenant], [CallbackSink(got.append)])
    out = set_usage(metadata_emulator, free_tenant.project_id, active_time_seconds=1000)
    assert out["quota_exceeded"] == "active_time_seconds"
    # the emulator now refuses to start the tenant's compute, as Neon does
    org = neon.org("free")
    endpoint = org.list_endpoints(free_tenant.project_id)[0]
    with pytest.raises(Exception, match="quota"):
        org.start_endpoint(free_tenant.project_id, endpoint.id)
    svc.run_once()
    suspended = [e for e in got if e.kind == "quota_suspended"]
    assert len(suspended) == 1
    assert suspended[0].metric == "active_time_seconds"
    assert suspended[0].detail == {"policy": "notify"}


def test_paid_tenant_compute_time_comes_from_consumption_v2(
    metadata_emulator: Any, make_project: MakeProject, prefix: str, tmp_path: Path
) -> None:
    created = make_project("beta", "paid", compute_time_seconds=10_000,
                           written_data_bytes=10**9)
    ref = TenantRef(tenant=f"{prefix}-beta", tier="pro", project_id=created.project.id,
                    org="paid")
    set_usage(metadata_emulator, ref.project_id, compute_time_seconds=3_000,
              written_data_bytes=10**8)
    svc = build(metadata_emulator, tmp_path, [ref], [])
    readings, report = svc.poller.cycle()
    (reading,) = readings
    assert reading.used["compute_time_seconds"] == 3_000
    assert reading.sources["compute_time_seconds"] == "consumption"
    assert report.orgs_without_consumption == []
    # written data is carried by no cheap source: read once per project while never read...
    assert reading.sources["written_data_bytes"] == "project"
    assert reading.used["written_data_bytes"] == 10**8
    assert report.project_reads == 1
    # ... and a tenant close to a threshold is read every cycle
    set_usage(metadata_emulator, ref.project_id, compute_time_seconds=7_500)
    readings, report = svc.poller.cycle()
    assert report.project_reads == 1
    assert readings[0].sources["compute_time_seconds"] == "project"
    # far from the lines again: the remembered written-data value is carried, not re-read,
    # until it is older than reread_after_seconds (4 h)
    set_usage(metadata_emulator, ref.project_id, compute_time_seconds=3_100)
    readings, report = svc.poller.cycle()
    assert report.project_reads == 0
    assert readings[0].sources["written_data_bytes"] == "carried"
    assert readings[0].used["written_data_bytes"] == 10**8


def test_cycle_interval_below_15_minutes_is_refused() -> None:
    with pytest.raises(ValueError, match="900"):
        PollerConfig(interval_seconds=60)


def test_webhook_settings_come_from_env_or_a_file_and_never_print(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    env = {"NEON_TENANTS_WEBHOOK_URL": "https://hooks.example/x?token=t0k3n",
           "NEON_TENANTS_WEBHOOK_SECRET_FILE": str(secret_file)}
    config = WebhookConfig.from_env(env)
    assert config is not None and config.secret.get_secret_value() == "from-file"
    assert "from-file" not in repr(config) and "t0k3n" not in repr(config)
    assert config.where == "https://hooks.example"
    with pytest.raises(ValueError, match="SECRET"):
        WebhookConfig.from_env({"NEON_TENANTS_WEBHOOK_URL": "https://hooks.example/x"})
    assert WebhookConfig.from_env({}) is None


def test_connection_refused_is_retried_and_logged_without_the_url(tmp_path: Path) -> None:
    store = FileUsageStore(tmp_path)
    event = Event(id="e1", kind="quota_threshold", tenant="t", tier="free", project_id="p",
                  period="2026-11", created_at="2026-11-28T00:00:00Z")
    store.raise_once([event])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sink = WebhookSink(WebhookConfig(url="http://127.0.0.1:9/x?token=zzz",
                                     secret=SecretStr(SECRET)), httpx.MockTransport(refuse))
    failed = Dispatcher(store, [sink], attempts=3, backoff_initial=0, backoff_max=0)
    assert failed.deliver_pending() == 1
    log = store.deliveries()
    assert [d.attempt for d in log] == [1, 2, 3] and not any(d.ok for d in log)
    assert all("zzz" not in (d.error or "") for d in log)


@pytest.fixture(autouse=True)
def _no_stray_webhook_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("NEON_TENANTS_WEBHOOK_URL", "NEON_TENANTS_WEBHOOK_SECRET",
                 "NEON_TENANTS_WEBHOOK_FILE", "NEON_TENANTS_WEBHOOK_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_seeded_metadata_tenants_are_listed_and_take_bulk_usage(
    metadata_emulator: Any, tmp_path: Path
) -> None:
    seeded = metadata_emulator.admin("POST", "seed_projects", json={
        "org": "paid", "count": 210, "name_prefix": f"seed{tmp_path.name[-6:]}",
        "quota": {"compute_time_seconds": 1000}})
    ids = seeded["project_ids"]
    assert len(ids) == 210
    metadata_emulator.admin("PUT", "usage", json={"projects": {
        ids[0]: {"compute_time_seconds": 990}, ids[1]: {"compute_time_seconds": 10}}})
    refs = [TenantRef(tenant=f"t{i}", tier="pro", project_id=p, org="paid")
            for i, p in enumerate(ids)]
    got: list[Event] = []
    svc = build(metadata_emulator, tmp_path, refs, [CallbackSink(got.append)])
    report = svc.run_once()
    try:
        assert report.readings == 210 and report.missing_projects == []
        # 210 projects over 100-project consumption pages: at least 3 requests, org-wide
        assert report.consumption_requests >= 3
        assert {(e.tenant, e.level) for e in got if e.kind == "quota_threshold"} == {
            ("t0", "warning"), ("t0", "critical")}
        assert report.project_reads == 1  # only t0 is near a line
    finally:
        client = NeonClient(NeonCredentials.from_file(metadata_emulator.credentials_file),
                            svc.poller.client.config)
        with client:
            for p in ids:
                client.org("paid").delete_project(p)


def test_metrics_endpoint_shows_ratios_thresholds_and_the_last_cycle(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path
) -> None:
    from neon_tenants.monitoring.metrics import serve_metrics

    set_usage(metadata_emulator, free_tenant.project_id, active_time_seconds=960,
              data_transfer_bytes=10**8)
    svc = build(metadata_emulator, tmp_path, [free_tenant], [])
    svc.run_once()
    server, _ = serve_metrics(svc.store, 0)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics").text
    finally:
        server.shutdown()
    t = free_tenant.tenant
    assert (f'neon_tenants_usage_ratio{{metric="active_time_seconds",tenant="{t}",tier="free"}}'
            " 0.96") in text
    assert (f'neon_tenants_usage_ratio{{metric="data_transfer_bytes",tenant="{t}",tier="free"}}'
            " 0.1") in text
    assert 'neon_tenants_tenants_over_threshold{level="critical",tier="free"} 1.0' in text
    assert 'neon_tenants_poll_requests{route="GET /projects"}' in text
    assert "neon_tenants_poll_cycle_duration_seconds " in text
    assert "neon_tenants_webhook_failures_total 0.0" in text


def test_a_cycle_that_fails_on_the_api_is_reported_and_the_service_goes_on(
    metadata_emulator: Any, free_tenant: TenantRef, tmp_path: Path
) -> None:
    set_usage(metadata_emulator, free_tenant.project_id, active_time_seconds=900)
    got: list[Event] = []
    errors: list[Exception] = []
    svc = build(metadata_emulator, tmp_path, [free_tenant], [CallbackSink(got.append)])
    svc.on_error = errors.append
    svc.poller.config = PollerConfig(interval_seconds=900)
    metadata_emulator.admin("PUT", "faults", json={"faults": [
        {"route": "GET /projects", "error_rate": 1.0, "status": 500, "times": 1}]})
    try:
        svc.run(cycles=2, clock=iter([0.0, 1.0e9, 1.0e9, 2.0e9]).__next__)
    finally:
        metadata_emulator.admin("PUT", "faults", json={"faults": []})
    assert len(errors) == 1 and "500" in str(errors[0])
    assert [(e.metric, e.level) for e in got] == [("active_time_seconds", "warning")]


def test_a_receiver_that_is_down_costs_one_event_of_backoff_per_round(tmp_path: Path) -> None:
    store = FileUsageStore(tmp_path)
    events = [Event(id=f"e{i}", kind="quota_threshold", tenant=f"t{i}", tier="free",
                    project_id="p", period="2026-11", created_at="2026-11-28T00:00:00Z")
              for i in range(3)]
    store.raise_once(events)
    got: list[Event] = []
    with webhook_receiver(script=[503] * 3) as hook:
        webhook = WebhookSink(WebhookConfig(url=hook.url, secret=SecretStr(SECRET)))
        dispatcher = Dispatcher(store, [webhook, CallbackSink(got.append)], attempts=3,
                                backoff_initial=0, backoff_max=0)
        assert dispatcher.deliver_pending() == 1
        assert len(hook.got) == 3 and [e.id for e in got] == ["e0", "e1", "e2"]
        assert [e.id for e in store.pending()] == ["e0", "e1", "e2"]  # webhook still lacks them
        assert dispatcher.deliver_pending() == 0  # the receiver is back: all three, in order
    assert [r.headers[EVENT_HEADER] for r in hook.accepted] == ["e0", "e1", "e2"]
    assert store.pending() == []
