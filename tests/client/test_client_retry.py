"""Retry policy over scripted HTTP: 423/429/503, Retry-After, deadline, ambiguous creates."""

from __future__ import annotations

import httpx
import pytest

from neon_tenants.client import (
    AmbiguousOutcome,
    DeadlineExceeded,
    Locked,
    NotFound,
    ProjectCreate,
)
from neon_tenants.client._retry import full_jitter, retry_after_seconds

from . import factories as f
from .conftest import Script


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _err(status: int, code: str = "X") -> httpx.Response:
    return _json(status, {"code": code, "message": f"status {status}"})


def test_get_retries_423_then_succeeds(make_client, clock):
    script = Script(_err(423, "LOCKED"), _err(423, "LOCKED"), _json(200, {"project": f.project()}))
    client = make_client(script)
    project = client.org("free").get_project("proj-1")
    assert project.id == "proj-1"
    assert len(script.requests) == 3
    # full jitter with rng=1.0 gives the exponential ceiling: 0.5 then 1.0
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [423, 429, 503])
def test_create_retries_retryable_statuses_then_succeeds(make_client, status):
    script = Script(_err(status), _json(201, f.created_project(ops=[])))
    client = make_client(script)
    created = client.org("free").create_project(ProjectCreate(name="nt-acme"))
    assert created.project.name == "nt-acme"
    assert [r.method for r in script.requests] == ["POST", "POST"]


def test_each_attempt_sends_a_fresh_request_id(make_client):
    script = Script(_err(503), _json(200, {"project": f.project()}))
    make_client(script).org("free").get_project("proj-1")
    ids = [r.headers["X-Request-ID"] for r in script.requests]
    assert len(set(ids)) == 2 and all(len(i) == 36 for i in ids)


def test_retry_after_header_is_honoured(make_client, clock):
    script = Script(
        _json(429, {"code": "", "message": "slow down"}, {"Retry-After": "7"}),
        _json(200, {"project": f.project()}),
    )
    make_client(script).org("free").get_project("proj-1")
    assert clock.sleeps == [7.0]


def test_deadline_exceeded_when_always_locked(make_client, clock):
    script = Script(*[_err(423) for _ in range(50)])
    client = make_client(script, deadline_seconds=10.0, backoff_initial=1.0, backoff_max=4.0)
    with pytest.raises(DeadlineExceeded) as info:
        client.org("free").get_project("proj-1")
    assert sum(clock.sleeps) <= 10.0
    assert "HTTP 423" in str(info.value)
    assert 3 <= len(script.requests) < 50


def test_retry_after_beyond_deadline_fails_without_sleeping(make_client, clock):
    script = Script(_json(429, {"code": "", "message": "x"}, {"Retry-After": "3600"}))
    client = make_client(script, deadline_seconds=30.0)
    with pytest.raises(DeadlineExceeded):
        client.org("free").get_project("proj-1")
    assert clock.sleeps == []


def test_max_attempts_surfaces_typed_error(make_client):
    script = Script(_err(423), _err(423), _err(423))
    client = make_client(script, max_attempts=3)
    with pytest.raises(Locked) as info:
        client.org("free").get_project("proj-1")
    assert info.value.status == 423 and info.value.code == "X"


def test_non_retryable_error_carries_status_code_message_request_id(make_client):
    script = Script(_json(404, {"code": "NOT_FOUND", "message": "no such project"}))
    with pytest.raises(NotFound) as info:
        make_client(script).org("free").get_project("proj-x")
    err = info.value
    assert (err.status, err.code, err.message) == (404, "NOT_FOUND", "no such project")
    assert err.request_id == script.requests[0].headers["X-Request-ID"]
    assert len(script.requests) == 1


def test_connect_error_on_create_is_retried(make_client):
    script = Script(httpx.ConnectError("refused"), _json(201, f.created_project(ops=[])))
    created = make_client(script).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert created.project.id == "proj-1"
    assert len(script.requests) == 2


def test_read_timeout_on_create_is_ambiguous_not_retried(make_client):
    script = Script(httpx.ReadTimeout("lost"), _json(201, f.created_project(ops=[])))
    with pytest.raises(AmbiguousOutcome) as info:
        make_client(script).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert len(script.requests) == 1
    assert info.value.request_id == script.requests[0].headers["X-Request-ID"]


def test_read_timeout_on_get_is_retried(make_client):
    script = Script(httpx.ReadTimeout("lost"), _json(200, {"project": f.project()}))
    assert make_client(script).org("free").get_project("proj-1").id == "proj-1"
    assert len(script.requests) == 2


def test_full_jitter_is_bounded_by_cap_and_exponential():
    assert full_jitter(1, 0.5, 8, lambda: 1.0) == 0.5
    assert full_jitter(4, 0.5, 8, lambda: 1.0) == 4.0
    assert full_jitter(10, 0.5, 8, lambda: 1.0) == 8.0
    assert full_jitter(3, 0.5, 8, lambda: 0.0) == 0.0


def test_retry_after_parses_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
