"""Small helpers shared by the resources: org ids, endpoints, URIs, 404 tolerance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def org_id_for(alias: str) -> str:
    """The org id behind an alias, from the provider process's credentials."""
    from neon_tenants.client import NeonCredentials

    return NeonCredentials.from_env().resolve(alias)[1].id


def is_not_found(err: Exception) -> bool:
    from neon_tenants.client.errors import NotFound

    return isinstance(err, NotFound)


def or_none(call: Callable[[], T]) -> T | None:
    """Run `call`; a 404 means "gone" (refresh drops it, delete succeeds)."""
    try:
        return call()
    except Exception as err:  # noqa: BLE001 - narrowed right below
        if is_not_found(err):
            return None
        raise


def items(result: Any, attr: str) -> list[Any]:
    """Lists come back either bare or wrapped (`{"endpoints": [...]}`); accept both."""
    value = getattr(result, attr, result)
    return list(value or [])


def read_write_endpoint(org_api: Any, project_id: str, branch_id: str) -> Any | None:
    eps = items(org_api.list_branch_endpoints(project_id, branch_id), "endpoints")
    for ep in eps:
        if getattr(ep, "type", None) == "read_write":
            return ep
    return None


def default_branch(org_api: Any, project_id: str) -> Any:
    for br in org_api.iter_branches(project_id):
        if br.default:
            return br
    raise RuntimeError(f"project {project_id} has no default branch")


def find_branch_by_name(org_api: Any, project_id: str, name: str) -> Any | None:
    for br in org_api.iter_branches(project_id, search=name):
        if br.name == name:
            return br
    return None


def uris(
    org_api: Any, project_id: str, database: str, role: str, branch_id: str,
    endpoint_id: str | None = None,
) -> tuple[str, str]:
    """(direct, pooled) connection URIs; they carry the password, callers mark them secret."""
    direct = org_api.connection_uri(project_id, database, role, branch_id=branch_id,
                                    endpoint_id=endpoint_id)
    pooled = org_api.connection_uri(project_id, database, role, branch_id=branch_id,
                                    endpoint_id=endpoint_id, pooled=True)
    return _plain(direct), _plain(pooled)


def _plain(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter else value)
