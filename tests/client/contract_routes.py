"""Canned, spec-valid responses for every route the client calls (used by the contract tests)."""

from __future__ import annotations

from typing import Any

import httpx

from . import factories as f
from .spec_transport import Responder

OP_ID = "7b0c8e0e-1111-4222-8333-444455556666"


def _j(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def _running(p: dict[str, str]) -> list[dict[str, Any]]:
    return [f.op("running", project_id=p.get("project_id", "proj-1"), op_id=OP_ID)]


def _branch_ops(req: httpx.Request, p: dict[str, str]) -> httpx.Response:
    return _j(200, {"branch": f.branch(p["branch_id"], p["project_id"]), "operations": _running(p)})


def _endpoint_ops(req: httpx.Request, p: dict[str, str]) -> httpx.Response:
    ep = f.endpoint(p.get("endpoint_id", "ep-new-1"), p["project_id"])
    return _j(200, {"endpoint": ep, "operations": _running(p)})


def _period() -> dict[str, Any]:
    return {
        "period_id": "11111111-2222-4333-8444-555566667777", "period_plan": "launch",
        "period_start": f.TS,
        "consumption": [{"timeframe_start": f.TS, "timeframe_end": f.TS,
                         "metrics": [{"metric_name": "compute_unit_seconds", "value": 42}]}],
    }


P = "/projects/{project_id}"
B = P + "/branches/{branch_id}"

ROUTES: dict[tuple[str, str], Responder] = {
    # projects
    ("GET", "/projects"): lambda r, p: _j(200, {
        "projects": [f.project_item("proj-1", "nt-acme")], "pagination": {"cursor": "proj-1"},
        "applications": {}, "integrations": {}}),
    ("POST", "/projects"): lambda r, p: _j(201, f.created_project(ops=_running(p))),
    ("GET", P): lambda r, p: _j(200, {"project": f.project(p["project_id"])}),
    ("PATCH", P): lambda r, p: _j(200, {"project": f.project(p["project_id"]),
                                        "operations": _running(p)}),
    ("DELETE", P): lambda r, p: _j(200, {"project": f.project(p["project_id"])}),
    ("POST", P + "/recover"): lambda r, p: _j(200, {"project": f.project(p["project_id"]),
                                                    "branches": [f.branch()]}),
    ("GET", P + "/connection_uri"): lambda r, p: _j(200, {"uri": f.SECRET_URI}),
    # operations
    ("GET", P + "/operations"): lambda r, p: _j(200, {
        "operations": [f.op("finished", project_id=p["project_id"])],
        "pagination": {"cursor": "c-1"}}),
    ("GET", P + "/operations/{operation_id}"): lambda r, p: _j(200, {
        "operation": f.op("finished", project_id=p["project_id"], op_id=p["operation_id"])}),
    # branches
    ("POST", P + "/branches"): lambda r, p: _j(201, {
        "branch": f.branch("br-dev-1", p["project_id"], "dev", "br-main-1", False),
        "endpoints": [f.endpoint("ep-dev-1", p["project_id"], "br-dev-1")],
        "operations": _running(p), "roles": [f.role()], "databases": [f.database()]}),
    ("GET", P + "/branches"): lambda r, p: _j(200, {
        "branches": [f.branch(project_id=p["project_id"])], "annotations": {},
        "pagination": {"sort_by": "updated_at", "sort_order": "desc"}}),
    ("GET", P + "/branches/count"): lambda r, p: _j(200, {"count": 3}),
    ("GET", B): lambda r, p: _j(200, {
        "branch": f.branch(p["branch_id"], p["project_id"], parent_id=(
            None if p["branch_id"] == "br-main-1" else "br-main-1")),
        "annotation": {"object": {"type": "console/branch", "id": p["branch_id"]}, "value": {}}}),
    ("PATCH", B): _branch_ops,
    ("DELETE", B): _branch_ops,
    ("POST", B + "/restore"): _branch_ops,
    ("POST", B + "/set_as_default"): _branch_ops,
    ("GET", B + "/schema"): lambda r, p: _j(200, {"sql": "CREATE TABLE t (id int);"}),
    ("GET", B + "/compare_schema"): lambda r, p: _j(200, {"diff": "--- a\n+++ b\n"}),
    ("POST", B + "/finalize_restore"): lambda r, p: _j(200, {"operations": _running(p)}),
    ("GET", B + "/endpoints"): lambda r, p: _j(200, {"endpoints": [f.endpoint()]}),
    # databases / roles
    ("GET", B + "/databases"): lambda r, p: _j(200, {"databases": [f.database()]}),
    ("POST", B + "/databases"): lambda r, p: _j(201, {"database": f.database("app"),
                                                      "operations": _running(p)}),
    ("DELETE", B + "/databases/{database_name}"): lambda r, p: _j(200, {
        "database": f.database(p["database_name"]), "operations": _running(p)}),
    ("GET", B + "/roles"): lambda r, p: _j(200, {"roles": [f.role()]}),
    ("POST", B + "/roles"): lambda r, p: _j(201, {
        "role": f.role("app", password=f.SECRET_PASSWORD), "operations": _running(p)}),
    ("DELETE", B + "/roles/{role_name}"): lambda r, p: _j(200, {
        "role": f.role(p["role_name"]), "operations": _running(p)}),
    ("GET", B + "/roles/{role_name}/reveal_password"): lambda r, p: _j(200, {
        "password": f.SECRET_PASSWORD}),
    ("POST", B + "/roles/{role_name}/reset_password"): lambda r, p: _j(200, {
        "role": f.role(p["role_name"], password=f.SECRET_PASSWORD), "operations": _running(p)}),
    # endpoints
    ("POST", P + "/endpoints"): lambda r, p: _j(201, {
        "endpoint": f.endpoint("ep-new-1", p["project_id"]), "operations": _running(p)}),
    ("GET", P + "/endpoints"): lambda r, p: _j(200, {"endpoints": [f.endpoint()]}),
    ("GET", P + "/endpoints/{endpoint_id}"): lambda r, p: _j(200, {
        "endpoint": f.endpoint(p["endpoint_id"])}),
    ("PATCH", P + "/endpoints/{endpoint_id}"): _endpoint_ops,
    ("DELETE", P + "/endpoints/{endpoint_id}"): _endpoint_ops,
    ("POST", P + "/endpoints/{endpoint_id}/start"): _endpoint_ops,
    ("POST", P + "/endpoints/{endpoint_id}/suspend"): _endpoint_ops,
    ("POST", P + "/endpoints/{endpoint_id}/restart"): _endpoint_ops,
    # snapshots
    ("POST", B + "/snapshot"): lambda r, p: _j(200, {"snapshot": f.snapshot(),
                                                     "operations": _running(p)}),
    ("GET", P + "/snapshots"): lambda r, p: _j(200, {"snapshots": [f.snapshot()]}),
    ("PATCH", P + "/snapshots/{snapshot_id}"): lambda r, p: _j(200, {
        "snapshot": f.snapshot(p["snapshot_id"], "renamed")}),
    ("DELETE", P + "/snapshots/{snapshot_id}"): lambda r, p: _j(202, {"operations": _running(p)}),
    ("POST", P + "/snapshots/{snapshot_id}/restore"): lambda r, p: _j(200, {
        "branch": f.branch("br-restored-1", p["project_id"], "restored", None, False),
        "endpoints": [f.endpoint("ep-r-1", p["project_id"], "br-restored-1")],
        "operations": _running(p)}),
    # consumption v2
    ("GET", "/consumption_history/v2/projects"): lambda r, p: _j(200, {
        "projects": [{"project_id": "proj-1", "periods": [_period()]}],
        "pagination": {"cursor": "proj-1"}}),
    ("GET", "/consumption_history/v2/branches"): lambda r, p: _j(200, {
        "branches": [{"project_id": "proj-1", "branch_id": "br-main-1", "periods": [_period()]}],
        "pagination": {"cursor": "br-main-1"}}),
    # neon auth / data api
    ("POST", B + "/auth"): lambda r, p: _j(201, {
        "auth_provider": "better_auth", "auth_provider_project_id": "ap-1",
        "pub_client_key": "pub", "secret_server_key": "server-SECRET", "jwks_url": "https://j",
        "schema_name": "neon_auth", "table_name": "users_sync"}),
    ("GET", B + "/auth"): lambda r, p: _j(200, {
        "auth_provider": "better_auth", "auth_provider_project_id": "ap-1",
        "branch_id": p["branch_id"], "db_name": "neondb", "created_at": f.TS,
        "owned_by": "neon", "jwks_url": "https://j"}),
    ("DELETE", B + "/auth"): lambda r, p: httpx.Response(200),
    ("POST", B + "/data-api/{database_name}"): lambda r, p: _j(201, {"url": "https://d"}),
    ("GET", B + "/data-api/{database_name}"): lambda r, p: _j(200, {
        "url": "https://d", "status": "ready"}),
    ("PATCH", B + "/data-api/{database_name}"): lambda r, p: _j(201, {}),
    ("DELETE", B + "/data-api/{database_name}"): lambda r, p: _j(200, {}),
    # organizations / keys / users
    ("GET", "/organizations/{org_id}"): lambda r, p: _j(200, f.organization(p["org_id"])),
    ("GET", "/organizations/{org_id}/api_keys"): lambda r, p: _j(200, [
        {**f.api_key_info(), "project_id": "proj-1"}]),
    ("POST", "/organizations/{org_id}/api_keys"): lambda r, p: _j(200, {
        "id": 9, "key": "new-KEY-secret", "name": "k", "created_at": f.TS,
        "created_by": "00000000-0000-0000-0000-000000000001", "project_id": "proj-1"}),
    ("DELETE", "/organizations/{org_id}/api_keys/{key_id}"): lambda r, p: _j(200, {
        **f.api_key_info(int(p["key_id"])), "revoked": True, "project_id": "proj-1",
        "created_by": "00000000-0000-0000-0000-000000000001"}),
    ("POST", "/organizations/{source_org_id}/projects/transfer"): lambda r, p: _j(200, {}),
    ("GET", "/users/me"): lambda r, p: _j(200, {
        "active_seconds_limit": 0, "id": "00000000-0000-0000-0000-000000000001",
        "email": "a@example.com", "login": "a", "name": "A", "last_name": "B", "image": "",
        "projects_limit": 100, "branches_limit": 10, "max_autoscaling_limit": 2,
        "auth_accounts": [], "plan": "free"}),
    ("GET", "/users/me/organizations"): lambda r, p: _j(200, {
        "organizations": [f.organization()]}),
    ("GET", "/api_keys"): lambda r, p: _j(200, [f.api_key_info()]),
    ("POST", "/api_keys"): lambda r, p: _j(200, {
        "id": 9, "key": "new-KEY-secret", "name": "k", "created_at": f.TS,
        "created_by": "00000000-0000-0000-0000-000000000001"}),
    ("DELETE", "/api_keys/{key_id}"): lambda r, p: _j(200, {
        **f.api_key_info(int(p["key_id"])), "revoked": True,
        "created_by": "00000000-0000-0000-0000-000000000001"}),
}
