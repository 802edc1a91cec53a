"""RateBudget: never more than `limit` acquisitions in any window (virtual clock)."""

from __future__ import annotations

import httpx

from neon_tenants.monitoring._transport import MeteredTransport, RateBudget, route_of


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_no_window_of_60_seconds_holds_more_than_30() -> None:
    clock = Clock()
    budget = RateBudget(30, 60, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(300):
        budget.acquire()
        stamps.append(clock.now)
        clock.now += 0.01  # each request takes 10 ms
    worst = max(sum(1 for t in stamps if s <= t < s + 60) for s in stamps)
    assert worst == 30
    assert 9 * 60 <= stamps[-1] < 10 * 60  # 300 requests: just under ten minutes
    assert budget.slept > 500


def test_transport_counts_by_route_and_paces_only_matching_routes() -> None:
    clock = Clock()
    budget = RateBudget(1, 60, clock=clock, sleep=clock.sleep)
    inner = httpx.MockTransport(lambda r: httpx.Response(200, json={}))
    transport = MeteredTransport(inner, {"GET /consumption_history/": budget})
    with httpx.Client(transport=transport, base_url="http://x/api/v2") as http:
        http.get("/projects/p-1")
        http.get("/projects/p-2")
        http.get("/projects")
        http.get("/consumption_history/v2/projects")
        http.get("/consumption_history/v2/projects")
    assert transport.take_counts() == {"GET /projects/{project_id}": 2, "GET /projects": 1,
                                       "GET /consumption_history/v2/projects": 2}
    assert 60 <= clock.now < 60.001 and transport.take_counts() == {}
    assert route_of(httpx.Request("GET", "http://x/api/v2/projects/a/branches")) == (
        "GET /projects/{project_id}/branches")
