"""PersonalClient: calls that need the personal key (transfer, users/me, account API keys).

Org-to-org transfer needs a personal key that is a member of both orgs (CONTRACT.md
section 1, "Transfers"); an org key gets 403.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ._base import ApiBase
from .errors import NeonAPIError, TransferIntegrationsBlocked, TransferLimitsNotMet
from .models.organizations import (
    ApiKeyCreate,
    ApiKeyInfo,
    CreatedApiKey,
    CurrentUser,
    Organization,
    OrganizationsResponse,
    TransferProjects,
)

TRANSFER = "/organizations/{source_org_id}/projects/transfer"


class PersonalClient(ApiBase):
    """Every call with the personal API key."""

    def transfer_projects(
        self, source_org_id: str, destination_org_id: str, project_ids: Sequence[str]
    ) -> None:
        """Move projects between orgs in chunks of <= 400 ids (the spec's maximum).

        406 -> TransferLimitsNotMet(limits), 422 -> TransferIntegrationsBlocked(projects).
        """
        ids = list(dict.fromkeys(project_ids))
        size = self.config.transfer_chunk_size
        for start in range(0, len(ids), size):
            body = TransferProjects(
                destination_org_id=destination_org_id, project_ids=ids[start : start + size]
            )
            try:
                self._call_json(
                    "POST", TRANSFER, path={"source_org_id": source_org_id}, json=body.to_body()
                )
            except NeonAPIError as exc:
                raise _typed_transfer_error(exc) from None

    def users_me(self) -> CurrentUser:
        return self._call("GET", "/users/me", CurrentUser)

    def my_organizations(self) -> list[Organization]:
        return self._call("GET", "/users/me/organizations", OrganizationsResponse).organizations

    def iter_api_keys(self) -> Iterator[ApiKeyInfo]:
        for item in self._call_json("GET", "/api_keys") or []:
            yield ApiKeyInfo.model_validate(item)

    def create_api_key(self, name: str) -> CreatedApiKey:
        body = ApiKeyCreate(key_name=name)
        return self._call("POST", "/api_keys", CreatedApiKey, json=body.to_body())

    def revoke_api_key(self, key_id: int) -> ApiKeyInfo:
        return self._call("DELETE", "/api_keys/{key_id}", ApiKeyInfo, path={"key_id": key_id})


def _typed_transfer_error(exc: NeonAPIError) -> NeonAPIError:
    body: Any = exc.body
    if exc.status == 406 and isinstance(body, dict) and isinstance(body.get("limits"), list):
        return TransferLimitsNotMet(body["limits"], exc.request_id)
    if exc.status == 422 and isinstance(body, dict) and isinstance(body.get("projects"), list):
        return TransferIntegrationsBlocked(body["projects"], exc.request_id)
    return exc
