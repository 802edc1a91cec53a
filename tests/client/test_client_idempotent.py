"""create_project_idempotent: find first, create, reconcile an ambiguous create by name."""

from __future__ import annotations

import json

import httpx
import pytest

from neon_tenants.client import ProjectCreate

from . import factories as f


class FakeNeon:
    """A tiny stateful server: the create 'succeeds' server-side even when the reply is lost."""

    def __init__(self, lose_reply: int = 0, apply_lost: bool = True) -> None:
        self.projects: dict[str, dict] = {}
        self.lose_reply = lose_reply
        self.apply_lost = apply_lost
        self.creates = 0
        self.op_polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v2")
        if request.method == "GET" and path == "/projects":
            search = request.url.params.get("search", "")
            items = [f.project_item(p["id"], p["name"]) for p in self.projects.values()
                     if search in p["name"]]
            return httpx.Response(200, json={"projects": items, "pagination": {"cursor": ""}})
        if request.method == "POST" and path == "/projects":
            self.creates += 1
            name = json.loads(request.content)["project"]["name"]
            pid = f"proj-{self.creates}"
            lost = self.lose_reply > 0
            if lost:
                self.lose_reply -= 1
                if self.apply_lost:
                    self.projects[pid] = {"id": pid, "name": name}
                raise httpx.ReadTimeout("reply lost")
            self.projects[pid] = {"id": pid, "name": name}
            return httpx.Response(201, json=f.created_project(pid, name, ops=[]))
        if path.endswith("/operations") and request.method == "GET":
            pid = path.split("/")[2]
            ops = [f.op("running", project_id=pid, op_id="7b0c8e0e-1111-4222-8333-444455556666")]
            return httpx.Response(200, json={"operations": ops, "pagination": {"cursor": ""}})
        if "/operations/" in path:
            self.op_polls += 1
            pid = path.split("/")[2]
            return httpx.Response(200, json={"operation": f.op(
                "finished", project_id=pid, op_id="7b0c8e0e-1111-4222-8333-444455556666")})
        if request.method == "GET" and path.startswith("/projects/"):
            pid = path.split("/")[2]
            p = self.projects[pid]
            return httpx.Response(200, json={"project": f.project(pid, p["name"])})
        raise AssertionError(f"unexpected {request.method} {path}")


def test_existing_name_is_not_created_again(make_client):
    neon = FakeNeon()
    neon.projects["proj-9"] = {"id": "proj-9", "name": "nt-acme"}
    result = make_client(neon).org("free").create_project_idempotent(ProjectCreate(name="nt-acme"))
    assert result.created is False and result.project.id == "proj-9"
    assert neon.creates == 0


def test_plain_create_when_absent(make_client):
    neon = FakeNeon()
    result = make_client(neon).org("free").create_project_idempotent(ProjectCreate(name="nt-acme"))
    assert result.created is True and result.response is not None
    assert neon.creates == 1


def test_ambiguous_create_reconciles_without_duplicate(make_client):
    neon = FakeNeon(lose_reply=1, apply_lost=True)
    result = make_client(neon).org("free").create_project_idempotent(ProjectCreate(name="nt-acme"))
    assert result.project.id == "proj-1"
    assert neon.creates == 1 and len(neon.projects) == 1
    assert neon.op_polls == 1  # waited for the found project's running operation


def test_ambiguous_create_that_did_not_apply_is_created_again(make_client):
    neon = FakeNeon(lose_reply=1, apply_lost=False)
    result = make_client(neon).org("free").create_project_idempotent(ProjectCreate(name="nt-acme"))
    assert neon.creates == 2 and list(neon.projects) == ["proj-2"]
    assert result.project.id == "proj-2" and result.created is True


def test_idempotent_create_needs_a_name(make_client):
    with pytest.raises(ValueError):
        make_client(FakeNeon()).org("free").create_project_idempotent(ProjectCreate())
