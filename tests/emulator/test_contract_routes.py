"""Contract: every mounted /api/v2 route is a spec operation (same method and path), and the
spec operations left out are listed here explicitly (LocalStack's test_asf_providers idea)."""

from __future__ import annotations

from neon_emulator.app import API_ROUTERS
from neon_emulator.spec import spec_operations

# Not emulated: legacy/deprecated routes, features outside the Agent-plan flows (members,
# invitations, VPC, buckets, functions, anonymization, Neon Auth sub-resources, JWKS, ...).
LEFT_OUT = {
    "GET /consumption_history/projects",
    "DELETE /organizations/{org_id}/billing/spending_limit",
    "GET /organizations/{org_id}/billing/spending_limit",
    "PUT /organizations/{org_id}/billing/spending_limit",
    "GET /organizations/{org_id}/invitations",
    "POST /organizations/{org_id}/invitations",
    "GET /organizations/{org_id}/members",
    "DELETE /organizations/{org_id}/members/{member_id}",
    "GET /organizations/{org_id}/members/{member_id}",
    "PATCH /organizations/{org_id}/members/{member_id}",
    "GET /organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints",
    "DELETE /organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}",
    "GET /organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}",
    "POST /organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}",
    "GET /organizations/{org_id}/vpc/vpc_endpoints",
    "POST /projects/auth/create",
    "POST /projects/auth/keys",
    "POST /projects/auth/transfer_ownership",
    "POST /projects/auth/user",
    "GET /projects/shared",
    "GET /projects/{project_id}/advisors",
    "DELETE /projects/{project_id}/auth/domains",
    "GET /projects/{project_id}/auth/domains",
    "POST /projects/{project_id}/auth/domains",
    "GET /projects/{project_id}/auth/email_server",
    "PATCH /projects/{project_id}/auth/email_server",
    "DELETE /projects/{project_id}/auth/integration/{auth_provider}",
    "GET /projects/{project_id}/auth/integrations",
    "GET /projects/{project_id}/auth/oauth_providers",
    "POST /projects/{project_id}/auth/oauth_providers",
    "DELETE /projects/{project_id}/auth/oauth_providers/{oauth_provider_id}",
    "PATCH /projects/{project_id}/auth/oauth_providers/{oauth_provider_id}",
    "DELETE /projects/{project_id}/auth/users/{auth_user_id}",
    "GET /projects/{project_id}/available_preload_libraries",
    "POST /projects/{project_id}/branch_anonymized",
    "GET /projects/{project_id}/branches/{branch_id}/ai_gateway",
    "POST /projects/{project_id}/branches/{branch_id}/anonymize",
    "GET /projects/{project_id}/branches/{branch_id}/anonymized_status",
    "GET /projects/{project_id}/branches/{branch_id}/auth/allow_localhost",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/allow_localhost",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/config",
    "DELETE /projects/{project_id}/branches/{branch_id}/auth/domains",
    "GET /projects/{project_id}/branches/{branch_id}/auth/domains",
    "POST /projects/{project_id}/branches/{branch_id}/auth/domains",
    "GET /projects/{project_id}/branches/{branch_id}/auth/email_and_password",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/email_and_password",
    "GET /projects/{project_id}/branches/{branch_id}/auth/email_provider",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/email_provider",
    "GET /projects/{project_id}/branches/{branch_id}/auth/oauth_providers",
    "POST /projects/{project_id}/branches/{branch_id}/auth/oauth_providers",
    "DELETE /projects/{project_id}/branches/{branch_id}/auth/oauth_providers/{oauth_provider_id}",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/oauth_providers/{oauth_provider_id}",
    "GET /projects/{project_id}/branches/{branch_id}/auth/plugins",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/plugins/magic-link",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/plugins/organization",
    "GET /projects/{project_id}/branches/{branch_id}/auth/plugins/phone-number",
    "PATCH /projects/{project_id}/branches/{branch_id}/auth/plugins/phone-number",
    "POST /projects/{project_id}/branches/{branch_id}/auth/send_test_email",
    "POST /projects/{project_id}/branches/{branch_id}/auth/users",
    "DELETE /projects/{project_id}/branches/{branch_id}/auth/users/{auth_user_id}",
    "PUT /projects/{project_id}/branches/{branch_id}/auth/users/{auth_user_id}/role",
    "GET /projects/{project_id}/branches/{branch_id}/auth/webhooks",
    "PUT /projects/{project_id}/branches/{branch_id}/auth/webhooks",
    "GET /projects/{project_id}/branches/{branch_id}/backup_schedule",
    "PUT /projects/{project_id}/branches/{branch_id}/backup_schedule",
    "GET /projects/{project_id}/branches/{branch_id}/buckets",
    "POST /projects/{project_id}/branches/{branch_id}/buckets",
    "DELETE /projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}",
    "GET /projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects",
    "DELETE /projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects-by-prefix",
    "DELETE /projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}",
    "GET "
    "/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}/download",
    "POST "
    "/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}/presign",
    "GET /projects/{project_id}/branches/{branch_id}/credentials",
    "POST /projects/{project_id}/branches/{branch_id}/credentials",
    "DELETE /projects/{project_id}/branches/{branch_id}/credentials/{token_id}",
    "GET /projects/{project_id}/branches/{branch_id}/functions",
    "DELETE /projects/{project_id}/branches/{branch_id}/functions/{slug}",
    "GET /projects/{project_id}/branches/{branch_id}/functions/{slug}",
    "PATCH /projects/{project_id}/branches/{branch_id}/functions/{slug}",
    "POST /projects/{project_id}/branches/{branch_id}/functions/{slug}/deployments",
    "GET /projects/{project_id}/branches/{branch_id}/masking_rules",
    "PATCH /projects/{project_id}/branches/{branch_id}/masking_rules",
    "POST /projects/{project_id}/branches/{branch_id}/recover",
    "GET /projects/{project_id}/branches/{branch_id}/storage",
    "GET /projects/{project_id}/jwks",
    "POST /projects/{project_id}/jwks",
    "DELETE /projects/{project_id}/jwks/{jwks_id}",
    "GET /projects/{project_id}/permissions",
    "POST /projects/{project_id}/permissions",
    "DELETE /projects/{project_id}/permissions/{permission_id}",
    "GET /projects/{project_id}/vpc_endpoints",
    "DELETE /projects/{project_id}/vpc_endpoints/{vpc_endpoint_id}",
    "POST /projects/{project_id}/vpc_endpoints/{vpc_endpoint_id}",
    "POST /users/me/projects/transfer",
}


def _mounted() -> set[str]:
    return {f"{m} {route.path}" for r in API_ROUTERS for route in r.routes
            for m in route.methods}  # type: ignore[attr-defined]


def test_contract_every_mounted_route_is_in_the_spec():
    spec = {f"{m} {p}" for m, p in spec_operations()}
    assert _mounted() - spec == set()


def test_contract_left_out_list_is_exactly_the_unimplemented_spec_operations():
    spec = {f"{m} {p}" for m, p in spec_operations()}
    assert spec - _mounted() == LEFT_OUT
    assert not LEFT_OUT & _mounted()


def test_contract_core_agent_plan_routes_are_mounted():
    core = {
        "POST /projects", "GET /projects", "GET /projects/{project_id}",
        "PATCH /projects/{project_id}", "DELETE /projects/{project_id}",
        "POST /projects/{project_id}/recover", "GET /projects/{project_id}/connection_uri",
        "POST /organizations/{source_org_id}/projects/transfer",
        "GET /projects/{project_id}/operations/{operation_id}",
        "POST /projects/{project_id}/branches",
        "POST /projects/{project_id}/branches/{branch_id}/restore",
        "POST /projects/{project_id}/branches/{branch_id}/snapshot",
        "POST /projects/{project_id}/snapshots/{snapshot_id}/restore",
        "POST /projects/{project_id}/branches/{branch_id}/finalize_restore",
        "GET /consumption_history/v2/projects",
        "POST /projects/{project_id}/branches/{branch_id}/auth",
        "POST /projects/{project_id}/branches/{branch_id}/data-api/{database_name}",
    }
    assert core <= _mounted()
