"""Consumption v2 (section 6), Neon Auth and Data API (branch-scoped), the org itself."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from ._base import ApiBase, cursor_of
from .models.auth import (
    DataApi,
    DataApiCreate,
    DataApiCreated,
    DataApiUpdate,
    NeonAuthCreate,
    NeonAuthCreated,
    NeonAuthIntegration,
)
from .models.consumption import (
    BranchConsumption,
    BranchConsumptionPage,
    ProjectConsumption,
    ProjectConsumptionPage,
)
from .models.organizations import ApiKeyInfo, CreatedApiKey, Organization, OrgApiKeyCreate

Granularity = Literal["hourly", "daily", "monthly"]
CONSUMPTION = "/consumption_history/v2"
BRANCH = "/projects/{project_id}/branches/{branch_id}"
DATA_API = BRANCH + "/data-api/{database_name}"
ORG = "/organizations/{org_id}"


def _csv(values: Sequence[str] | None) -> str | None:
    return ",".join(values) if values else None


class ExtrasMixin(ApiBase):
    """Needs `self.org_id` (set by OrgClient)."""

    org_id: str

    # consumption -----------------------------------------------------------------------
    def iter_consumption_projects(
        self,
        org_id: str | None,
        from_: str,
        to: str,
        granularity: Granularity,
        metrics: Sequence[str],
        project_ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> Iterator[ProjectConsumption]:
        """GET /consumption_history/v2/projects; does not wake computes."""
        params = self._consumption_query(
            org_id, from_, to, granularity, metrics, project_ids=project_ids
        )
        return self._pages(
            CONSUMPTION + "/projects",
            ProjectConsumptionPage,
            lambda page: page.projects,
            cursor_of,
            params=params,
            limit=limit,
        )

    def iter_consumption_branches(
        self,
        org_id: str | None,
        from_: str,
        to: str,
        granularity: Granularity,
        metrics: Sequence[str],
        project_ids: Sequence[str],
        branch_ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> Iterator[BranchConsumption]:
        """GET /consumption_history/v2/branches (beta); project_ids are required here."""
        params = self._consumption_query(
            org_id, from_, to, granularity, metrics, project_ids=project_ids, branch_ids=branch_ids
        )
        return self._pages(
            CONSUMPTION + "/branches",
            BranchConsumptionPage,
            lambda page: page.branches,
            cursor_of,
            params=params,
            limit=limit,
        )

    def _consumption_query(
        self,
        org_id: str | None,
        from_: str,
        to: str,
        granularity: Granularity,
        metrics: Sequence[str],
        **ids: Sequence[str] | None,
    ) -> dict[str, str | None]:
        """The query both consumption routes take; `ids` are the comma-joined id filters."""
        query = {
            "org_id": org_id or self.org_id,
            "from": from_,
            "to": to,
            "granularity": granularity,
            "metrics": _csv(metrics),
        }
        return query | {name: _csv(values) for name, values in ids.items()}

    # neon auth -------------------------------------------------------------------------
    def create_neon_auth(
        self,
        project_id: str,
        branch_id: str,
        auth_provider: Literal["mock", "stack", "better_auth"],
        database_name: str | None = None,
    ) -> NeonAuthCreated:
        body = NeonAuthCreate(auth_provider=auth_provider, database_name=database_name)
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("POST", BRANCH + "/auth", NeonAuthCreated, path=path, json=body.to_body())

    def get_neon_auth(self, project_id: str, branch_id: str) -> NeonAuthIntegration:
        path = {"project_id": project_id, "branch_id": branch_id}
        return self._call("GET", BRANCH + "/auth", NeonAuthIntegration, path=path)

    def delete_neon_auth(self, project_id: str, branch_id: str, delete_data: bool = False) -> None:
        path = {"project_id": project_id, "branch_id": branch_id}
        self._call_json("DELETE", BRANCH + "/auth", path=path, json={"delete_data": delete_data})

    # data api --------------------------------------------------------------------------
    def create_data_api(
        self, project_id: str, branch_id: str, database_name: str, body: DataApiCreate | None = None
    ) -> DataApiCreated:
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        payload: dict[str, Any] = (body or DataApiCreate()).to_body()
        return self._call("POST", DATA_API, DataApiCreated, path=path, json=payload)

    def get_data_api(self, project_id: str, branch_id: str, database_name: str) -> DataApi:
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        return self._call("GET", DATA_API, DataApi, path=path)

    def update_data_api(
        self, project_id: str, branch_id: str, database_name: str, body: DataApiUpdate
    ) -> None:
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        self._call_json("PATCH", DATA_API, path=path, json=body.to_body())

    def delete_data_api(self, project_id: str, branch_id: str, database_name: str) -> None:
        path = {"project_id": project_id, "branch_id": branch_id, "database_name": database_name}
        self._call_json("DELETE", DATA_API, path=path)

    # organization ----------------------------------------------------------------------
    def get_organization(self) -> Organization:
        return self._call("GET", ORG, Organization, path={"org_id": self.org_id})

    def iter_org_api_keys(self) -> Iterator[ApiKeyInfo]:
        data = self._call_json("GET", ORG + "/api_keys", path={"org_id": self.org_id})
        for item in data or []:
            yield ApiKeyInfo.model_validate(item)

    def create_org_api_key(self, name: str, project_id: str | None = None) -> CreatedApiKey:
        """A project-scoped key stops working when the project is transferred."""
        body = OrgApiKeyCreate(key_name=name, project_id=project_id)
        return self._call(
            "POST",
            ORG + "/api_keys",
            CreatedApiKey,
            path={"org_id": self.org_id},
            json=body.to_body(),
        )

    def revoke_org_api_key(self, key_id: int) -> ApiKeyInfo:
        path = {"org_id": self.org_id, "key_id": key_id}
        return self._call("DELETE", ORG + "/api_keys/{key_id}", ApiKeyInfo, path=path)
