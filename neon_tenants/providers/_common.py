"""Small helpers shared by the resources: org ids, endpoints, URIs, 404 tolerance."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.branches import Branch
    from neon_tenants.client.models.endpoints import Endpoint

T = TypeVar("T")


def org_id_for(client: NeonClient, alias: str) -> str:
    """The org id behind an alias, from the provider process's credentials."""
    return client.credentials.resolve(alias)[1].id


def or_none(call: Callable[[], T]) -> T | None:
    """Run `call`; a 404 means "gone" (refresh drops it, delete succeeds)."""
    # imported here: the client (httpx, every model) is not needed by check/diff, so a
    # preview's provider process never loads it
    from neon_tenants.client.errors import NotFound

    try:
        return call()
    except NotFound:
        return None


def read_write(endpoints: Iterable[Endpoint], branch_id: str | None = None) -> Endpoint | None:
    """The read-write endpoint among `endpoints` (of `branch_id` when given)."""
    for ep in endpoints:
        if ep.type == "read_write" and (branch_id is None or ep.branch_id == branch_id):
            return ep
    return None


def read_write_endpoint(org_api: OrgClient, project_id: str, branch_id: str) -> Endpoint | None:
    return read_write(org_api.list_branch_endpoints(project_id, branch_id))


def default_branch(org_api: OrgClient, project_id: str) -> Branch:
    for br in org_api.iter_branches(project_id):
        if br.default:
            return br
    raise RuntimeError(f"project {project_id} has no default branch")


def find_branch_by_name(org_api: OrgClient, project_id: str, name: str) -> Branch | None:
    for br in org_api.iter_branches(project_id, search=name):
        if br.name == name:
            return br
    return None


def uris(
    org_api: OrgClient, project_id: str, database: str, role: str, branch_id: str,
    endpoint_id: str | None = None,
) -> tuple[str, str]:
    """(direct, pooled) connection URIs; they carry the password, callers mark them secret."""
    direct = org_api.connection_uri(project_id, database, role, branch_id=branch_id,
                                    endpoint_id=endpoint_id)
    pooled = org_api.connection_uri(project_id, database, role, branch_id=branch_id,
                                    endpoint_id=endpoint_id, pooled=True)
    return direct.get_secret_value(), pooled.get_secret_value()


def pooled_uri(direct: str, host: str, pooler_host: str) -> str:
    """The pooled URI from the direct one: the same URI with the pooler's host.

    Neon's connection details (the create-project reply) give `host` and `pooler_host`
    beside the direct URI; `GET .../connection_uri?pooled=true` returns exactly this, so
    building it here saves a round trip per create (issue #16)."""
    parts = urlsplit(direct)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if not hostport.startswith(host):
        raise ValueError("the direct URI does not point at the endpoint's host")
    netloc = f"{userinfo}@{pooler_host}{hostport[len(host):]}" if userinfo else (
        pooler_host + hostport[len(host):])
    return urlunsplit(parts._replace(netloc=netloc))
