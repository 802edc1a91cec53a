"""Client-side rate limiting: per-route burst of 40/s and per-account 700/min, switchable."""

from __future__ import annotations

import httpx

from neon_tenants.client._ratelimit import RateLimiter

from . import factories as f


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s
        self.slept += s


def test_route_burst_then_waits():
    clock = _Clock()
    limiter = RateLimiter(700, 40, clock=clock.now, sleep=clock.sleep)
    for _ in range(40):
        assert limiter.acquire("org:free", "GET /projects") == 0.0
    waited = limiter.acquire("org:free", "GET /projects")
    assert 0 < waited <= 1 / 40 + 1e-9
    # a different route and a different account have their own buckets
    assert limiter.acquire("org:free", "GET /projects/{project_id}") == 0.0
    assert limiter.acquire("org:paid", "GET /projects") == 0.0


def test_account_budget_of_700_per_minute():
    clock = _Clock()
    limiter = RateLimiter(700, 40, clock=clock.now, sleep=clock.sleep)
    for i in range(700):
        limiter.acquire("org:free", f"GET /r{i % 50}")
    assert clock.slept < 60
    before = clock.slept
    limiter.acquire("org:free", "GET /new-route")
    assert clock.slept - before > 0  # the 701st in the same minute waits


def test_disabled_limiter_never_waits():
    clock = _Clock()
    limiter = RateLimiter(1, 1, enabled=False, clock=clock.now, sleep=clock.sleep)
    for _ in range(100):
        limiter.acquire("a", "GET /x")
    assert clock.slept == 0


def test_client_applies_route_limit(make_client, clock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"project": f.project()})

    client = make_client(handler, rate_limit_enabled=True, route_requests_per_second=5)
    org = client.org("free")
    for _ in range(6):
        org.get_project("proj-1")
    assert len(clock.sleeps) == 1 and clock.sleeps[0] <= 0.2 + 1e-9
