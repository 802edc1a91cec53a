"""Org-to-org transfer: chunks of 400, 406/422 bodies as typed errors."""

from __future__ import annotations

import json

import httpx
import pytest

from neon_tenants.client import Forbidden, TransferIntegrationsBlocked, TransferLimitsNotMet

from .conftest import Script


def test_transfer_chunks_by_400(make_client):
    script = Script(*[httpx.Response(200, json={}) for _ in range(3)])
    ids = [f"proj-{i}" for i in range(901)]
    make_client(script).personal.transfer_projects("org-free-1", "org-paid-1", ids)
    bodies = [json.loads(r.content) for r in script.requests]
    assert [len(b["project_ids"]) for b in bodies] == [400, 400, 101]
    assert all(b["destination_org_id"] == "org-paid-1" for b in bodies)
    assert script.requests[0].url.path == "/api/v2/organizations/org-free-1/projects/transfer"
    assert sum((b["project_ids"] for b in bodies), []) == ids


def test_transfer_406_is_limits_not_met(make_client):
    body = {"limits": [{"name": "projects", "expected": "10", "actual": "11"}]}
    script = Script(httpx.Response(406, json=body))
    with pytest.raises(TransferLimitsNotMet) as info:
        make_client(script).personal.transfer_projects("org-a", "org-b", ["p-1"])
    assert info.value.limits == body["limits"]
    assert info.value.request_id == script.requests[0].headers["X-Request-ID"]


def test_transfer_422_is_integrations_blocked(make_client):
    body = {"projects": [{"id": "p-1", "integration": "github"}]}
    script = Script(httpx.Response(422, json=body))
    with pytest.raises(TransferIntegrationsBlocked) as info:
        make_client(script).personal.transfer_projects("org-a", "org-b", ["p-1"])
    assert info.value.projects[0]["id"] == "p-1" and info.value.status == 422


def test_transfer_403_stays_forbidden(make_client):
    script = Script(httpx.Response(403, json={"code": "FORBIDDEN", "message": "need personal"}))
    with pytest.raises(Forbidden):
        make_client(script).personal.transfer_projects("org-a", "org-b", ["p-1"])
