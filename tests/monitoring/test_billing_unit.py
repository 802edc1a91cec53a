"""iter_billing_rows with a scripted transport: project_ids chunking and row shape."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr

from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, OrgCredential
from neon_tenants.monitoring.billing import iter_billing_rows

CREDS = NeonCredentials(orgs={"free": OrgCredential(id="org-1", api_key=SecretStr("k-123"))})


def body_for(request: httpx.Request) -> dict[str, Any]:
    ids = request.url.params["project_ids"].split(",")
    metrics = request.url.params["metrics"].split(",")
    frame = {
        "timeframe_start": "2026-11-01T00:00:00Z",
        "timeframe_end": "2026-11-02T00:00:00Z",
        "metrics": [{"metric_name": m, "value": 1.5} for m in metrics],
    }
    period = {"period_id": "per-1", "period_plan": "agent", "period_start": "2026-11-01T00:00:00Z",
              "consumption": [frame]}  # fmt: skip
    return {"projects": [{"project_id": i, "periods": [period]} for i in ids]}


def test_more_than_100_project_ids_are_chunked() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=json.dumps(body_for(request)).encode())

    ids = [f"p-{i:03d}" for i in range(150)]
    config = ClientConfig(base_url="http://neon.test/api/v2", rate_limit_enabled=False)
    with NeonClient(CREDS, config, httpx.MockTransport(handler)) as client:
        rows = list(iter_billing_rows(client.org("free"), "2026-11-01T00:00:00Z",
                                      "2026-11-02T00:00:00Z", "daily", ["compute_unit_seconds"],
                                      project_ids=ids))  # fmt: skip
    assert [len(r.url.params["project_ids"].split(",")) for r in seen] == [100, 50]
    assert all(r.url.params["org_id"] == "org-1" for r in seen)
    assert all(r.headers["authorization"] == "Bearer k-123" for r in seen)
    assert [r.project_id for r in rows] == ids
    first = rows[0]
    assert (first.period_id, first.period_plan, first.metric, first.value) == (
        "per-1", "agent", "compute_unit_seconds", 1.5,
    )  # fmt: skip
    assert first.project_name == ""  # no names mapping given
