"""Endpoints (CONTRACT.md section 4), databases and roles (section 5)."""

from __future__ import annotations

from pydantic import SecretStr

from ._operations import OperationsMixin
from .models.branches import (
    Database,
    DatabaseCreate,
    DatabaseOperations,
    DatabasesResponse,
    Role,
    RoleCreate,
    RoleOperations,
    RolePassword,
    RolesResponse,
)
from .models.endpoints import (
    Endpoint,
    EndpointCreate,
    EndpointOperations,
    EndpointResponse,
    EndpointsResponse,
    EndpointUpdate,
)

ENDPOINTS = "/projects/{project_id}/endpoints"
ENDPOINT = "/projects/{project_id}/endpoints/{endpoint_id}"
BRANCH = "/projects/{project_id}/branches/{branch_id}"
DATABASE = BRANCH + "/databases/{database_name}"
ROLE = BRANCH + "/roles/{role_name}"


class EndpointsMixin(OperationsMixin):
    """Computes, databases and roles."""

    def create_endpoint(
        self, project_id: str, body: EndpointCreate, *, wait: bool = True
    ) -> Endpoint:
        result = self._call(
            "POST",
            ENDPOINTS,
            EndpointOperations,
            path={"project_id": project_id},
            json={"endpoint": body.to_body()},
        )
        return self._waited(project_id, result, wait).endpoint

    def list_endpoints(self, project_id: str) -> list[Endpoint]:
        path = {"project_id": project_id}
        return self._call("GET", ENDPOINTS, EndpointsResponse, path=path).endpoints

    def list_branch_endpoints(self, project_id: str, branch_id: str) -> list[Endpoint]:
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("GET", BRANCH + "/endpoints", EndpointsResponse, path=path).endpoints

    def get_endpoint(self, project_id: str, endpoint_id: str) -> Endpoint:
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        return self._call("GET", ENDPOINT, EndpointResponse, path=path).endpoint

    def update_endpoint(
        self, project_id: str, endpoint_id: str, body: EndpointUpdate, *, wait: bool = True
    ) -> Endpoint:
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        result = self._call(
            "PATCH", ENDPOINT, EndpointOperations, path=path, json={"endpoint": body.to_body()}
        )
        return self._waited(project_id, result, wait).endpoint

    def delete_endpoint(
        self, project_id: str, endpoint_id: str, *, wait: bool = True
    ) -> Endpoint | None:
        """DELETE; a 204 (already gone) returns None."""
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        result = self._delete(project_id, ENDPOINT, path, EndpointOperations.model_validate, wait)
        return None if result is None else result.endpoint

    def _endpoint_action(
        self, project_id: str, endpoint_id: str, action: str, wait: bool
    ) -> Endpoint:
        path = {"project_id": project_id, "endpoint_id": endpoint_id}
        result = self._call("POST", ENDPOINT + "/" + action, EndpointOperations, path=path)
        return self._waited(project_id, result, wait).endpoint

    def start_endpoint(self, project_id: str, endpoint_id: str, *, wait: bool = True) -> Endpoint:
        return self._endpoint_action(project_id, endpoint_id, "start", wait)

    def suspend_endpoint(self, project_id: str, endpoint_id: str, *, wait: bool = True) -> Endpoint:
        return self._endpoint_action(project_id, endpoint_id, "suspend", wait)

    def restart_endpoint(self, project_id: str, endpoint_id: str, *, wait: bool = True) -> Endpoint:
        return self._endpoint_action(project_id, endpoint_id, "restart", wait)

    # databases -------------------------------------------------------------------------
    def list_databases(self, project_id: str, branch_id: str) -> list[Database]:
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("GET", BRANCH + "/databases", DatabasesResponse, path=path).databases

    def create_database(
        self, project_id: str, branch_id: str, name: str, owner_name: str, *, wait: bool = True
    ) -> Database:
        body = DatabaseCreate(name=name, owner_name=owner_name)
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "POST",
            BRANCH + "/databases",
            DatabaseOperations,
            path=path,
            json={"database": body.to_body()},
        )
        return self._waited(project_id, result, wait).database

    def delete_database(
        self, project_id: str, branch_id: str, database_name: str, *, wait: bool = True
    ) -> Database | None:
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        result = self._delete(project_id, DATABASE, path, DatabaseOperations.model_validate, wait)
        return None if result is None else result.database

    # roles -----------------------------------------------------------------------------
    def list_roles(self, project_id: str, branch_id: str) -> list[Role]:
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("GET", BRANCH + "/roles", RolesResponse, path=path).roles

    def create_role(
        self,
        project_id: str,
        branch_id: str,
        name: str,
        no_login: bool | None = None,
        *,
        wait: bool = True,
    ) -> Role:
        body = RoleCreate(name=name, no_login=no_login)
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "POST", BRANCH + "/roles", RoleOperations, path=path, json={"role": body.to_body()}
        )
        return self._waited(project_id, result, wait).role

    def delete_role(
        self, project_id: str, branch_id: str, role_name: str, *, wait: bool = True
    ) -> Role | None:
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        result = self._delete(project_id, ROLE, path, RoleOperations.model_validate, wait)
        return None if result is None else result.role

    def reveal_role_password(self, project_id: str, branch_id: str, role_name: str) -> SecretStr:
        """412 (PreconditionFailed) when the project has store_passwords=false."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        return self._call("GET", ROLE + "/reveal_password", RolePassword, path=path).password

    def reset_role_password(
        self, project_id: str, branch_id: str, role_name: str, *, wait: bool = True
    ) -> Role:
        """The old password works until the operations finish; so we wait by default."""
        path = {"project_id": project_id, "branch_id": branch_id, "role_name": role_name}
        result = self._call("POST", ROLE + "/reset_password", RoleOperations, path=path)
        return self._waited(project_id, result, wait).role
