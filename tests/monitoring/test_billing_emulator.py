"""Raw consumption v2 rows against the emulator: every page followed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials
from neon_tenants.monitoring.billing import check_metrics, iter_billing_rows

from .conftest import MakeProject, window

METRICS = ["compute_unit_seconds", "root_branch_bytes_month", "public_network_transfer_bytes"]


class CountingTransport(httpx.HTTPTransport):
    """Records every request URL so the test can see the cursors actually sent."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return super().handle_request(request)


def test_export_follows_every_page(
    metadata_emulator: Any, make_project: MakeProject, prefix: str
) -> None:
    ids = [make_project(f"t{i}", "paid").project.id for i in range(5)]
    counting = CountingTransport()
    creds = NeonCredentials.from_file(metadata_emulator.credentials_file)
    start, end = window(metadata_emulator)
    with NeonClient(creds, ClientConfig(base_url=metadata_emulator.base_url), counting) as client:
        rows = list(iter_billing_rows(client.org("paid"), start, end, "hourly", METRICS,
                                      project_ids=ids, page_size=2))  # fmt: skip
    pages = [u for u in counting.urls if u.path.endswith("/consumption_history/v2/projects")]
    assert len(pages) == 3  # 2 + 2 + 1
    assert "cursor" not in pages[0].params
    assert all(p.params.get("cursor") for p in pages[1:])
    assert all(p.params["limit"] == "2" and p.params["granularity"] == "hourly" for p in pages)
    assert {p.params["metrics"] for p in pages} == {",".join(METRICS)}
    assert sorted({r.project_id for r in rows}) == sorted(ids)
    # one row per project, per timeframe (2 hours) and per metric
    assert len(rows) == 5 * 2 * len(METRICS)
    for pid in ids:
        mine = [r for r in rows if r.project_id == pid]
        assert sorted({r.metric for r in mine}) == sorted(METRICS)
        assert len({r.timeframe_start for r in mine}) == 2
    assert {r.org_id for r in rows} == {client.org("paid").org_id}


@pytest.mark.parametrize("metrics", [[], ["active_time_seconds"], ["compute_unit_seconds", "x"]])
def test_unknown_or_legacy_metrics_fail_before_any_request(metrics: list[str]) -> None:
    with pytest.raises(ValueError, match="metrics must be"):
        check_metrics(metrics)
