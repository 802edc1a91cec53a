"""Neon Auth and the Data API on one branch, on their real routes (CONTRACT.md 7 and 8).

Small enough to live as a helper of the branch and project providers instead of resources
of their own: both are a boolean per branch. Enabling is POST, disabling is DELETE (the
Data API has no `enabled` flag); a prior GET makes both idempotent after a crash.

Callers skip all of this when both add-ons are off and were off (`addons_involved`): a
tenant without add-ons costs no add-on request at create or update (issue #16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal

from neon_tenants.providers._common import or_none

if TYPE_CHECKING:
    from neon_tenants.client import OrgClient

AUTH_PROVIDER: Final[Literal["better_auth"]] = "better_auth"


def addons_involved(*flags: bool) -> bool:
    """Whether any of the old/new add-on flags is on: only then do add-on calls matter."""
    return any(flags)


def sync_addons(
    org_api: OrgClient, project_id: str, branch_id: str, database_name: str,
    neon_auth: bool, data_api: bool,
    on_auth_created: Callable[[Any], None] | None = None,
) -> str | None:
    """Make the branch match the two booleans; returns the Data API url (None if off).

    Neon Auth's keys are returned only when it is enabled (`NeonAuthCreated`), never by a
    later GET: `on_auth_created` receives that response so the caller keeps them (as
    secret outputs) for the platform backend (issue 10 item 8)."""
    if not data_api:
        if or_none(lambda: org_api.get_data_api(project_id, branch_id, database_name)):
            or_none(lambda: org_api.delete_data_api(project_id, branch_id, database_name))
    current_auth = or_none(lambda: org_api.get_neon_auth(project_id, branch_id))
    if neon_auth and current_auth is None:
        enabled = org_api.create_neon_auth(project_id, branch_id, AUTH_PROVIDER,
                                           database_name=database_name)
        if on_auth_created is not None:
            on_auth_created(enabled)
    elif not neon_auth and current_auth is not None:
        or_none(lambda: org_api.delete_neon_auth(project_id, branch_id))
    if not data_api:
        return None
    live = or_none(lambda: org_api.get_data_api(project_id, branch_id, database_name))
    if live is not None:
        return str(live.url)
    from neon_tenants.client.models.auth import DataApiCreate

    body = DataApiCreate(auth_provider="neon_auth" if neon_auth else None)
    created = org_api.create_data_api(project_id, branch_id, database_name, body)
    return str(created.url)


def read_addons(
    org_api: OrgClient, project_id: str, branch_id: str, database_name: str
) -> tuple[bool, str | None]:
    """(neon_auth enabled, data api url) as they are live, for refresh."""
    auth = or_none(lambda: org_api.get_neon_auth(project_id, branch_id)) is not None
    api = or_none(lambda: org_api.get_data_api(project_id, branch_id, database_name))
    return auth, (str(api.url) if api is not None else None)
