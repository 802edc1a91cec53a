"""Waiting for operations[]: terminal states, `error` at once, `failed` at the timeout."""

from __future__ import annotations

import re

import httpx
import pytest

from neon_tenants.client import OperationFailed, OperationTimeout, ProjectCreate

from . import factories as f

OP_ID = "7b0c8e0e-1111-4222-8333-444455556666"


def _router(op_statuses: list[str], error: str | None = None):
    """POST /projects answers with one running op; GET op returns the statuses in order."""
    polls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = f.created_project(ops=[f.op("running", "create_timeline", op_id=OP_ID)])
            return httpx.Response(201, json=body)
        match = re.fullmatch(r"/api/v2/projects/proj-1/operations/([0-9a-f-]+)", request.url.path)
        assert match and match.group(1) == OP_ID
        status = op_statuses[min(len(polls), len(op_statuses) - 1)]
        polls.append(status)
        return httpx.Response(200, json={"operation": f.op(status, op_id=OP_ID, error=error)})

    return handler, polls


@pytest.mark.parametrize("terminal", ["finished", "skipped", "cancelled"])
def test_create_waits_until_operation_terminal(make_client, terminal):
    handler, polls = _router(["running", "running", terminal])
    make_client(handler).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert polls == ["running", "running", terminal]


def test_operation_error_raises_immediately_with_id_and_action(make_client):
    handler, polls = _router(["running", "error", "finished"], error="disk full")
    with pytest.raises(OperationFailed) as info:
        make_client(handler).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert info.value.operation_id == OP_ID
    assert info.value.action == "create_timeline"
    assert info.value.error == "disk full"
    assert polls == ["running", "error"]


def test_failed_is_polled_again_because_neon_retries_it(make_client):
    handler, polls = _router(["failed", "running", "finished"])
    make_client(handler).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert polls == ["failed", "running", "finished"]


def test_still_failed_at_timeout_is_operation_failed(make_client):
    handler, _ = _router(["failed"])
    client = make_client(handler, operation_timeout=3.0)
    with pytest.raises(OperationFailed) as info:
        client.org("free").create_project(ProjectCreate(name="nt-acme"))
    assert info.value.status == "failed" and info.value.operation_id == OP_ID


def test_running_at_timeout_is_operation_timeout(make_client, clock):
    handler, polls = _router(["running"])
    client = make_client(handler, operation_timeout=3.0)
    with pytest.raises(OperationTimeout) as info:
        client.org("free").create_project(ProjectCreate(name="nt-acme"))
    assert info.value.pending[0][0] == OP_ID
    assert sum(clock.sleeps) == pytest.approx(3.0)
    assert len(polls) >= 2


def test_wait_false_does_not_poll(make_client):
    handler, polls = _router(["running"])
    make_client(handler).org("free").create_project(ProjectCreate(name="nt-acme"), wait=False)
    assert polls == []


def test_already_finished_operations_cost_no_polls(make_client):
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(201, json=f.created_project(ops=[f.op("finished")]))

    make_client(handler).org("free").create_project(ProjectCreate(name="nt-acme"))
    assert calls == ["POST"]
