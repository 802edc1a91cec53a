"""HTTP calls per mission flow, counted through the spec-validating transport.

Each operation in the canned replies finishes on its first poll, so these are the minimum
request counts a flow costs against Neon's 700 req/min budget (printed with -s).
"""

from __future__ import annotations

import json

import pytest

from neon_tenants.client import (
    ClientConfig,
    NeonClient,
    ProjectCreate,
    ProjectQuota,
    ProjectSettings,
    ProjectUpdate,
)

from .contract_routes import ROUTES
from .spec_transport import SPEC_BASE, SpecTransport


def _flow(creds, run) -> list[tuple[str, str]]:
    transport = SpecTransport(ROUTES)
    config = ClientConfig(base_url=SPEC_BASE, rate_limit_enabled=False,
                          operation_poll_initial=0.0)
    with NeonClient(creds, config, transport=transport, sleep=lambda s: None) as client:
        run(client)
    return [(m, t) for m, t, _ in transport.hits]


def _provision(c: NeonClient) -> None:
    org = c.org("free")
    created = org.create_project(ProjectCreate(name="nt-acme"))
    org.connection_uri(created.project.id, "neondb", "owner")


def _upgrade(c: NeonClient) -> None:
    c.personal.transfer_projects("org-free-1", "org-paid-1", ["proj-1"])
    c.org("paid").update_project("proj-1", ProjectUpdate(settings=ProjectSettings(
        quota=ProjectQuota(active_time_seconds=2700000))))


def _pitr(c: NeonClient) -> None:
    c.org("paid").restore_branch("proj-1", "br-main-1", "br-main-1",
                                 source_timestamp="2026-01-01T00:00:00Z",
                                 preserve_under_name="before-restore")


def _snapshot_rotation(c: NeonClient) -> None:
    org = c.org("free")
    oldest = org.list_snapshots("proj-1")[0]
    org.delete_snapshot("proj-1", oldest.id)
    org.create_snapshot("proj-1", "br-main-1", name="nightly")


FLOWS = [
    ("provision", _provision, [
        ("POST", "/projects"), ("GET", "/projects/{project_id}/operations/{operation_id}"),
        ("GET", "/projects/{project_id}/connection_uri")]),
    ("upgrade", _upgrade, [
        ("POST", "/organizations/{source_org_id}/projects/transfer"),
        ("PATCH", "/projects/{project_id}"),
        ("GET", "/projects/{project_id}/operations/{operation_id}")]),
    ("pitr_restore", _pitr, [
        ("POST", "/projects/{project_id}/branches/{branch_id}/restore"),
        ("GET", "/projects/{project_id}/operations/{operation_id}")]),
    ("snapshot_rotation", _snapshot_rotation, [
        ("GET", "/projects/{project_id}/snapshots"),
        ("DELETE", "/projects/{project_id}/snapshots/{snapshot_id}"),
        ("GET", "/projects/{project_id}/operations/{operation_id}"),
        ("POST", "/projects/{project_id}/branches/{branch_id}/snapshot"),
        ("GET", "/projects/{project_id}/operations/{operation_id}")]),
]


@pytest.mark.parametrize("name,run,expected", FLOWS, ids=[f[0] for f in FLOWS])
def test_contract_flow_http_call_count(creds, name, run, expected):
    calls = _flow(creds, run)
    print(json.dumps({"flow": name, "http_calls": len(calls)}))
    assert calls == expected
