"""Contract tests: every request the client builds and every response it parses is validated
against Neon's OpenAPI spec (openapi-core), through a recording SpecTransport."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.validation.request.exceptions import RequestValidationError

from neon_tenants.client import (
    BranchCreate,
    BranchSpec,
    BranchUpdate,
    ClientConfig,
    EndpointCreate,
    EndpointCreateOptions,
    EndpointUpdate,
    NeonClient,
    OrgClient,
    PersonalClient,
    ProjectCreate,
    ProjectQuota,
    ProjectSettings,
    ProjectUpdate,
    TransferIntegrationsBlocked,
    TransferLimitsNotMet,
)
from neon_tenants.client.models import DataApiCreate, DataApiUpdate, DefaultEndpointSettings

from .contract_routes import OP_ID, ROUTES
from .spec_transport import SPEC_BASE, SpecTransport, load_spec

P = "/projects/{project_id}"
B = P + "/branches/{branch_id}"
Call = Callable[[OrgClient, PersonalClient], Any]

CASES: list[tuple[str, Call, tuple[str, str]]] = [
    ("create_project", lambda o, p: o.create_project(ProjectCreate(
        name="nt-acme", region_id="aws-us-east-2", pg_version=17, history_retention_seconds=86400,
        default_endpoint_settings=DefaultEndpointSettings(
            autoscaling_limit_min_cu=0.25, autoscaling_limit_max_cu=2,
            suspend_timeout_seconds=300),
        settings=ProjectSettings(quota=ProjectQuota(
            active_time_seconds=360000, logical_size_bytes=536870912)))), ("POST", "/projects")),
    ("get_project", lambda o, p: o.get_project("proj-1"), ("GET", P)),
    ("iter_projects", lambda o, p: list(o.iter_projects(search="nt-")), ("GET", "/projects")),
    ("find_project_by_name", lambda o, p: o.find_project_by_name("nt-acme"), ("GET", "/projects")),
    ("update_project", lambda o, p: o.update_project("proj-1", ProjectUpdate(
        settings=ProjectSettings(quota=ProjectQuota(active_time_seconds=2700000)))),
     ("PATCH", P)),
    ("delete_project", lambda o, p: o.delete_project("proj-1"), ("DELETE", P)),
    ("recover_project", lambda o, p: o.recover_project("proj-1"), ("POST", P + "/recover")),
    ("connection_uri", lambda o, p: o.connection_uri("proj-1", "neondb", "owner"),
     ("GET", P + "/connection_uri")),
    ("connection_uri_pooled", lambda o, p: o.connection_uri(
        "proj-1", "neondb", "owner", branch_id="br-main-1", endpoint_id="ep-main-1", pooled=True),
     ("GET", P + "/connection_uri")),
    ("create_project_idempotent", lambda o, p: o.create_project_idempotent(
        ProjectCreate(name="nt-other")), ("POST", "/projects")),
    ("wait_for_pending", lambda o, p: o.wait_for_pending("proj-1"), ("GET", P + "/operations")),
    ("get_operation", lambda o, p: o.get_operation("proj-1", OP_ID),
     ("GET", P + "/operations/{operation_id}")),
    ("iter_operations", lambda o, p: list(o.iter_operations("proj-1")),
     ("GET", P + "/operations")),
    ("wait_for_operations", lambda o, p: o.wait_for_operations(
        "proj-1", [o.get_operation("proj-1", OP_ID).model_copy(update={"status": "running"})]),
     ("GET", P + "/operations/{operation_id}")),
    ("create_branch", lambda o, p: o.create_branch("proj-1", BranchCreate(branch=BranchSpec(
        name="dev", parent_id="br-main-1", parent_timestamp="2026-01-01T00:00:00Z",
        expires_at="2026-02-01T00:00:00Z", init_source="parent-data")),
        endpoints=[EndpointCreateOptions(type="read_write", autoscaling_limit_min_cu=0.25,
                                         autoscaling_limit_max_cu=1, suspend_timeout_seconds=300)]),
     ("POST", P + "/branches")),
    ("create_branch_lsn_schema_only", lambda o, p: o.create_branch("proj-1", BranchCreate(
        branch=BranchSpec(name="s", parent_lsn="0/1A2B3C", init_source="schema-only"))),
     ("POST", P + "/branches")),
    ("iter_branches", lambda o, p: list(o.iter_branches("proj-1", search="dev", sort_by="name",
                                                        sort_order="asc")),
     ("GET", P + "/branches")),
    ("count_branches", lambda o, p: o.count_branches("proj-1", search="dev"),
     ("GET", P + "/branches/count")),
    ("get_branch", lambda o, p: o.get_branch("proj-1", "br-dev-1"), ("GET", B)),
    ("update_branch", lambda o, p: o.update_branch("proj-1", "br-dev-1", BranchUpdate(
        name="dev2", expires_at="2026-03-01T00:00:00Z")), ("PATCH", B)),
    ("delete_branch", lambda o, p: o.delete_branch("proj-1", "br-dev-1"), ("DELETE", B)),
    ("restore_branch", lambda o, p: o.restore_branch(
        "proj-1", "br-main-1", "br-main-1", source_timestamp="2026-01-01T00:00:00Z",
        preserve_under_name="main-before-restore"), ("POST", B + "/restore")),
    ("reset_branch_to_parent", lambda o, p: o.reset_branch_to_parent("proj-1", "br-dev-1"),
     ("POST", B + "/restore")),
    ("set_default_branch", lambda o, p: o.set_default_branch("proj-1", "br-dev-1"),
     ("POST", B + "/set_as_default")),
    ("compare_schema", lambda o, p: o.compare_schema("proj-1", "br-dev-1", "neondb",
                                                     base_branch_id="br-main-1"),
     ("GET", B + "/compare_schema")),
    ("branch_schema", lambda o, p: o.branch_schema("proj-1", "br-dev-1", "neondb"),
     ("GET", B + "/schema")),
    ("create_endpoint", lambda o, p: o.create_endpoint("proj-1", EndpointCreate(
        branch_id="br-dev-1", type="read_only", autoscaling_limit_min_cu=0.25,
        autoscaling_limit_max_cu=0.5)), ("POST", P + "/endpoints")),
    ("list_endpoints", lambda o, p: o.list_endpoints("proj-1"), ("GET", P + "/endpoints")),
    ("list_branch_endpoints", lambda o, p: o.list_branch_endpoints("proj-1", "br-main-1"),
     ("GET", B + "/endpoints")),
    ("get_endpoint", lambda o, p: o.get_endpoint("proj-1", "ep-main-1"),
     ("GET", P + "/endpoints/{endpoint_id}")),
    ("update_endpoint", lambda o, p: o.update_endpoint("proj-1", "ep-main-1", EndpointUpdate(
        autoscaling_limit_max_cu=2, suspend_timeout_seconds=600)),
     ("PATCH", P + "/endpoints/{endpoint_id}")),
    ("delete_endpoint", lambda o, p: o.delete_endpoint("proj-1", "ep-main-1"),
     ("DELETE", P + "/endpoints/{endpoint_id}")),
    ("start_endpoint", lambda o, p: o.start_endpoint("proj-1", "ep-main-1"),
     ("POST", P + "/endpoints/{endpoint_id}/start")),
    ("suspend_endpoint", lambda o, p: o.suspend_endpoint("proj-1", "ep-main-1"),
     ("POST", P + "/endpoints/{endpoint_id}/suspend")),
    ("restart_endpoint", lambda o, p: o.restart_endpoint("proj-1", "ep-main-1"),
     ("POST", P + "/endpoints/{endpoint_id}/restart")),
    ("list_databases", lambda o, p: o.list_databases("proj-1", "br-main-1"),
     ("GET", B + "/databases")),
    ("create_database", lambda o, p: o.create_database("proj-1", "br-main-1", "app", "owner"),
     ("POST", B + "/databases")),
    ("delete_database", lambda o, p: o.delete_database("proj-1", "br-main-1", "app"),
     ("DELETE", B + "/databases/{database_name}")),
    ("list_roles", lambda o, p: o.list_roles("proj-1", "br-main-1"), ("GET", B + "/roles")),
    ("create_role", lambda o, p: o.create_role("proj-1", "br-main-1", "app"),
     ("POST", B + "/roles")),
    ("delete_role", lambda o, p: o.delete_role("proj-1", "br-main-1", "app"),
     ("DELETE", B + "/roles/{role_name}")),
    ("reveal_role_password", lambda o, p: o.reveal_role_password("proj-1", "br-main-1", "owner"),
     ("GET", B + "/roles/{role_name}/reveal_password")),
    ("reset_role_password", lambda o, p: o.reset_role_password("proj-1", "br-main-1", "owner"),
     ("POST", B + "/roles/{role_name}/reset_password")),
    ("create_snapshot", lambda o, p: o.create_snapshot(
        "proj-1", "br-main-1", name="s1", timestamp="2026-01-01T00:00:00Z",
        expires_at="2026-02-01T00:00:00Z"), ("POST", B + "/snapshot")),
    ("create_snapshot_lsn", lambda o, p: o.create_snapshot("proj-1", "br-main-1", lsn="0/1A2B"),
     ("POST", B + "/snapshot")),
    ("list_snapshots", lambda o, p: o.list_snapshots("proj-1"), ("GET", P + "/snapshots")),
    ("rename_snapshot", lambda o, p: o.rename_snapshot("proj-1", "snap-1", "renamed"),
     ("PATCH", P + "/snapshots/{snapshot_id}")),
    ("delete_snapshot", lambda o, p: o.delete_snapshot("proj-1", "snap-1"),
     ("DELETE", P + "/snapshots/{snapshot_id}")),
    ("restore_snapshot", lambda o, p: o.restore_snapshot(
        "proj-1", "snap-1", name="restored", target_branch_id="br-main-1",
        finalize_restore=True), ("POST", P + "/snapshots/{snapshot_id}/restore")),
    ("finalize_restore", lambda o, p: o.finalize_restore("proj-1", "br-restored-1", name="old"),
     ("POST", B + "/finalize_restore")),
    ("iter_consumption_projects", lambda o, p: list(o.iter_consumption_projects(
        None, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "hourly",
        ["compute_unit_seconds", "public_network_transfer_bytes"], project_ids=["proj-1"])),
     ("GET", "/consumption_history/v2/projects")),
    ("iter_consumption_branches", lambda o, p: list(o.iter_consumption_branches(
        "org-free-1", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "daily",
        ["compute_unit_seconds"], ["proj-1"], branch_ids=["br-main-1"])),
     ("GET", "/consumption_history/v2/branches")),
    ("create_neon_auth", lambda o, p: o.create_neon_auth("proj-1", "br-main-1", "better_auth",
                                                         "neondb"), ("POST", B + "/auth")),
    ("get_neon_auth", lambda o, p: o.get_neon_auth("proj-1", "br-main-1"), ("GET", B + "/auth")),
    ("delete_neon_auth", lambda o, p: o.delete_neon_auth("proj-1", "br-main-1"),
     ("DELETE", B + "/auth")),
    ("create_data_api", lambda o, p: o.create_data_api("proj-1", "br-main-1", "neondb",
                                                       DataApiCreate(auth_provider="neon_auth")),
     ("POST", B + "/data-api/{database_name}")),
    ("get_data_api", lambda o, p: o.get_data_api("proj-1", "br-main-1", "neondb"),
     ("GET", B + "/data-api/{database_name}")),
    ("update_data_api", lambda o, p: o.update_data_api("proj-1", "br-main-1", "neondb",
                                                       DataApiUpdate(settings={})),
     ("PATCH", B + "/data-api/{database_name}")),
    ("delete_data_api", lambda o, p: o.delete_data_api("proj-1", "br-main-1", "neondb"),
     ("DELETE", B + "/data-api/{database_name}")),
    ("get_organization", lambda o, p: o.get_organization(), ("GET", "/organizations/{org_id}")),
    ("iter_org_api_keys", lambda o, p: list(o.iter_org_api_keys()),
     ("GET", "/organizations/{org_id}/api_keys")),
    ("create_org_api_key", lambda o, p: o.create_org_api_key("k", project_id="proj-1"),
     ("POST", "/organizations/{org_id}/api_keys")),
    ("revoke_org_api_key", lambda o, p: o.revoke_org_api_key(9),
     ("DELETE", "/organizations/{org_id}/api_keys/{key_id}")),
    ("transfer_projects", lambda o, p: p.transfer_projects("org-free-1", "org-paid-1",
                                                           ["proj-1", "proj-2"]),
     ("POST", "/organizations/{source_org_id}/projects/transfer")),
    ("users_me", lambda o, p: p.users_me(), ("GET", "/users/me")),
    ("my_organizations", lambda o, p: p.my_organizations(), ("GET", "/users/me/organizations")),
    ("iter_api_keys", lambda o, p: list(p.iter_api_keys()), ("GET", "/api_keys")),
    ("create_api_key", lambda o, p: p.create_api_key("k"), ("POST", "/api_keys")),
    ("revoke_api_key", lambda o, p: p.revoke_api_key(9), ("DELETE", "/api_keys/{key_id}")),
]


@pytest.fixture(scope="session")
def spec_loaded():
    return load_spec()


def _client(creds, transport: httpx.BaseTransport) -> NeonClient:
    config = ClientConfig(base_url=SPEC_BASE, rate_limit_enabled=False,
                          operation_poll_initial=0.0, operation_poll_max=0.0)
    return NeonClient(creds, config, transport=transport, sleep=lambda s: None)


@pytest.mark.parametrize("name,call,expected", CASES, ids=[c[0] for c in CASES])
def test_contract_client_method_matches_spec(spec_loaded, creds, name, call, expected):
    transport = SpecTransport(ROUTES)
    with _client(creds, transport) as client:
        call(client.org("free"), client.personal)
    templates = {(m, t) for m, t, _ in transport.hits}
    assert expected in templates, transport.hits
    assert all(status < 300 for _, _, status in transport.hits)


def test_contract_every_public_method_is_driven():
    driven = {name.split("_lsn")[0].removesuffix("_pooled") for name, _, _ in CASES}
    driven |= {n for n, _, _ in CASES}
    public: set[str] = set()
    for cls in (OrgClient, PersonalClient):
        for attr, _value in inspect.getmembers(cls, inspect.isfunction):
            if not attr.startswith("_"):
                public.add(attr)
    missing = public - driven - {"create_branch_lsn_schema_only"}
    assert not missing, f"client methods without a contract case: {sorted(missing)}"


def test_contract_transport_rejects_a_request_the_spec_forbids(spec_loaded, creds):
    """The validator is live: a bad request (unknown route / missing required param) fails."""
    transport = SpecTransport(ROUTES)
    with _client(creds, transport) as client:
        with pytest.raises((RequestValidationError, PathNotFound)):
            client._core.request("GET", "/projects/{project_id}/nope", client.org("free")._key,
                                 path={"project_id": "proj-1"})
        with pytest.raises(RequestValidationError):
            client._core.request("GET", P + "/connection_uri", client.org("free")._key,
                                 path={"project_id": "proj-1"}, params={"role_name": "x"})


@pytest.mark.parametrize("status,body,error", [
    (406, {"limits": [{"name": "projects", "expected": "1", "actual": "2"}]},
     TransferLimitsNotMet),
    (422, {"projects": [{"id": "proj-1", "integration": "github"}]},
     TransferIntegrationsBlocked),
])
def test_contract_transfer_error_bodies_are_typed(spec_loaded, creds, status, body, error):
    routes = dict(ROUTES)
    routes[("POST", "/organizations/{source_org_id}/projects/transfer")] = (
        lambda r, p: httpx.Response(status, json=body))
    transport = SpecTransport(routes)
    with _client(creds, transport) as client, pytest.raises(error) as info:
        client.personal.transfer_projects("org-free-1", "org-paid-1", ["proj-1"])
    assert info.value.status == status


def test_contract_general_error_body_is_spec_valid_and_parsed(spec_loaded, creds):
    from neon_tenants.client import NotFound

    routes = dict(ROUTES)
    routes[("GET", P)] = lambda r, p: httpx.Response(
        404, json={"code": "PROJECT_NOT_FOUND", "message": "not found",
                   "request_id": r.headers["X-Request-ID"]})
    transport = SpecTransport(routes)
    with _client(creds, transport) as client, pytest.raises(NotFound) as info:
        client.org("free").get_project("proj-404")
    assert info.value.code == "PROJECT_NOT_FOUND" and len(info.value.request_id) == 36
