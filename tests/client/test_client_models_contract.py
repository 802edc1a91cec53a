"""Contract: every field of our pydantic models exists in the spec's component schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from neon_tenants.client.models import (
    auth,
    branches,
    consumption,
    endpoints,
    operations,
    projects,
    snapshots,
)
from neon_tenants.client.models import organizations as orgs

from .spec_transport import load_spec_dict


def _resolve(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        node = spec["components"]["schemas"][name]
    return node


def _props(node: dict[str, Any], spec: dict[str, Any]) -> set[str]:
    node = _resolve(node, spec)
    names = set(node.get("properties", {}))
    for part in node.get("allOf", []):
        names |= _props(part, spec)
    return names


def _schema(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """'Name' or 'Name.prop.prop' (descends into properties / array items)."""
    name, *rest = where.split(".")
    node = _resolve(spec["components"]["schemas"][name], spec)
    for prop in rest:
        node = _resolve(node, spec)
        found = None
        for part in [node, *[_resolve(p, spec) for p in node.get("allOf", [])]]:
            found = found or part.get("properties", {}).get(prop)
        assert found is not None, f"{where}: no property {prop}"
        node = _resolve(found, spec)
        if node.get("type") == "array":
            node = _resolve(node["items"], spec)
    return node


CASES: list[tuple[type[BaseModel], str]] = [
    (operations.Operation, "Operation"),
    (operations.Pagination, "Pagination"),
    (operations.CursorPagination, "CursorPagination"),
    (projects.ProjectCreate, "ProjectCreateRequest.project"),
    (projects.ProjectUpdate, "ProjectUpdateRequest.project"),
    (projects.ProjectQuota, "ProjectQuota"),
    (projects.ProjectSettings, "ProjectSettingsData"),
    (projects.DefaultEndpointSettings, "DefaultEndpointSettings"),
    (projects.ProjectBranchSpec, "ProjectCreateRequest.project.branch"),
    (projects.ProjectListItem, "ProjectListItem"),
    (projects.Project, "Project"),
    (projects.ConnectionParameters, "ConnectionParameters"),
    (projects.ConnectionDetails, "ConnectionDetails"),
    (projects.ConnectionURIResponse, "ConnectionURIResponse"),
    (branches.BranchSpec, "BranchCreateRequest.branch"),
    (branches.BranchUpdate, "BranchUpdateRequest.branch"),
    (branches.BranchRestore, "BranchRestoreRequest"),
    (branches.Branch, "Branch"),
    (branches.Database, "Database"),
    (branches.DatabaseCreate, "DatabaseCreateRequest.database"),
    (branches.Role, "Role"),
    (branches.RoleCreate, "RoleCreateRequest.role"),
    (branches.RolePassword, "RolePasswordResponse"),
    (branches.BranchesCount, "BranchesCountResponse"),
    (branches.SchemaCompare, "BranchSchemaCompareResponse"),
    (endpoints.EndpointCreateOptions, "BranchCreateRequestEndpointOptions"),
    (endpoints.EndpointCreate, "EndpointCreateRequest.endpoint"),
    (endpoints.EndpointUpdate, "EndpointUpdateRequest.endpoint"),
    (endpoints.Endpoint, "Endpoint"),
    (snapshots.Snapshot, "Snapshot"),
    (orgs.Organization, "Organization"),
    (orgs.TransferProjects, "TransferProjectsToOrganizationRequest"),
    (orgs.ApiKeyCreate, "ApiKeyCreateRequest"),
    (orgs.OrgApiKeyCreate, "OrgApiKeyCreateRequest"),
    (orgs.ApiKeyInfo, "OrgApiKeyRevokeResponse"),
    (orgs.CreatedApiKey, "OrgApiKeyCreateResponse"),
    (orgs.CurrentUser, "CurrentUserInfoResponse"),
    (consumption.MetricValue, "ConsumptionMetricValue"),
    (consumption.Timeframe, "ConsumptionHistoryPerTimeframeV2"),
    (consumption.ConsumptionPeriod, "ConsumptionHistoryPerPeriodV2"),
    (consumption.ProjectConsumption, "ConsumptionHistoryPerProjectV2"),
    (consumption.BranchConsumption, "ConsumptionHistoryPerBranchV2"),
    (auth.NeonAuthCreate, "EnableNeonAuthIntegrationRequest"),
    (auth.NeonAuthCreated, "NeonAuthCreateIntegrationResponse"),
    (auth.NeonAuthIntegration, "NeonAuthIntegration"),
    (auth.DataApiCreate, "DataAPICreateRequest"),
    (auth.DataApiUpdate, "DataAPIUpdateRequest"),
    (auth.DataApiCreated, "DataAPICreateResponse"),
    (auth.DataApi, "DataAPIReponse"),
]


@pytest.mark.parametrize("model,where", CASES, ids=[c[1] for c in CASES])
def test_contract_model_fields_exist_in_spec_schema(model, where):
    spec = load_spec_dict()
    allowed = _props(_schema(spec, where), spec)
    fields = {info.alias or name for name, info in model.model_fields.items()}
    unknown = fields - allowed
    assert not unknown, f"{model.__name__} fields not in {where}: {sorted(unknown)}"


def test_contract_request_models_forbid_and_response_models_allow_extra():
    assert projects.ProjectCreate.model_config.get("extra") == "forbid"
    assert branches.Branch.model_config.get("extra") == "allow"
    with pytest.raises(ValueError):
        projects.ProjectCreate.model_validate({"name": "x", "target_org_id": "o"})
    parsed = branches.Branch.model_validate(
        {"id": "br-1", "project_id": "p", "name": "n", "brand_new_field": 1})
    assert parsed.model_extra == {"brand_new_field": 1}
