"""NeonTenantProject: the Neon project of one tenant, in the organization of its tier, with
its quota (`settings.quota`) and the compute limits of its default endpoint.

A tier change is an in-place transfer with the personal key (never a replace: the Terraform
provider's ForceNew `org_id` destroyed data, STYLE.md section 3). Region, Postgres version,
and the default database/role are fixed at create, so changing them is a replace, shown at
preview.

Requests (issue #16): the quota and compute limits travel in the create request (as the
guide's own example does) and the outputs come from the create reply, so a new tenant costs
one POST plus its operation polls; add-on routes are called only when an add-on is on or was
on; a create that was never attempted before (`first_attempt`, set by the fleet for a tenant
added by that very call) skips the list-by-name reconcile, which every other create keeps so
a rerun after a crash adopts the project instead of duplicating it. Quota and compute used to
be a resource of their own (`Quota`); they share the project's life cycle, so they are fields
here: one resource, one PATCH on a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pydantic import Field

from neon_tenants.catalog import QUOTA_KEYS, Limits
from neon_tenants.catalog import validate as v
from neon_tenants.providers._addons import addons_involved, read_addons, sync_addons
from neon_tenants.providers._base import (
    STATE_CONFIG,
    NeonProvider,
    NeonResource,
    ProviderError,
    ResourceInputs,
    mark,
)
from neon_tenants.providers._common import (
    default_branch,
    or_none,
    org_id_for,
    pooled_uri,
    read_write,
    read_write_endpoint,
    uris,
)

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.endpoints import Endpoint
    from neon_tenants.client.models.projects import (
        CreatedProject,
        DefaultEndpointSettings,
        Project,
        ProjectCreate,
        ProjectQuota,
        ProjectUpdate,
    )

DEFAULT_BRANCH_NAME = "production"
COMPUTE_FIELDS = ("min_cu", "max_cu", "suspend_timeout_seconds")


class ProjectInputs(ResourceInputs):
    name: str = Field(min_length=1, max_length=256)
    tenant_id: str
    tier: str
    org: str
    region_id: str = Field(default="aws-us-east-2", json_schema_extra=mark(replace=True))
    pg_version: int = Field(default=17, ge=14, le=18, json_schema_extra=mark(replace=True))
    history_retention_seconds: int = Field(default=86400, ge=0)
    database_name: str = Field(default="neondb", json_schema_extra=mark(replace=True))
    role_name: str = Field(default="neondb_owner", json_schema_extra=mark(replace=True))
    protected: bool = False
    neon_auth: bool = False
    data_api: bool = False
    # settings.quota (0 = unlimited)
    active_time_seconds: int = Field(default=0, ge=0)
    compute_time_seconds: int = Field(default=0, ge=0)
    written_data_bytes: int = Field(default=0, ge=0)
    data_transfer_bytes: int = Field(default=0, ge=0)
    logical_size_bytes: int = Field(default=0, ge=0)
    # compute limits: default endpoint settings and the default branch's read-write endpoint
    min_cu: float = 0.25
    max_cu: float = 2
    suspend_timeout_seconds: int = 0
    adopt_project_id: str | None = Field(default=None, json_schema_extra=mark(nodiff=True))
    first_attempt: bool = Field(default=False, json_schema_extra=mark(nodiff=True))
    limits: Limits = Field(json_schema_extra=mark(nodiff=True))


class ProjectState(ProjectInputs):
    """`stable` outputs are the ones an update never moves (it carries them over), so a quota
    or tier change previews as one update, not as updates of the dev branches that take the
    default branch id (only a refresh after a snapshot restore moves it)."""

    model_config = STATE_CONFIG

    project_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    org_id: str = Field(default="", json_schema_extra=mark(output=True))
    default_branch_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    endpoint_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    host: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    connection_uri: str = Field(
        default="", json_schema_extra=mark(output=True, secret=True, stable=True)
    )
    pooled_connection_uri: str = Field(
        default="", json_schema_extra=mark(output=True, secret=True, stable=True)
    )
    data_api_url: str | None = Field(default=None, json_schema_extra=mark(output=True))
    # Neon Auth: returned once, when enabled (kept in state, the secret as a Pulumi secret)
    neon_auth_pub_client_key: str | None = Field(default=None,
                                                 json_schema_extra=mark(output=True))
    neon_auth_secret_server_key: str | None = Field(
        default=None, json_schema_extra=mark(output=True, secret=True))
    neon_auth_jwks_url: str | None = Field(default=None, json_schema_extra=mark(output=True))


_NO_AUTH: dict[str, Any] = {"neon_auth_pub_client_key": None,
                            "neon_auth_secret_server_key": None, "neon_auth_jwks_url": None}


class _AuthKeys:
    """Collects the Neon Auth keys from the one reply that carries them (the enable call);
    otherwise keeps what the state had while Neon Auth stays on (issue 10 item 8)."""

    def __init__(self, old: ProjectState | None, neon_auth: bool) -> None:
        self.values = dict(_NO_AUTH)
        if old is not None and neon_auth:
            self.values = {k: getattr(old, k) for k in _NO_AUTH}

    def __call__(self, created: Any) -> None:
        secret = getattr(created, "secret_server_key", None)
        getter = getattr(secret, "get_secret_value", None)
        self.values = {
            "neon_auth_pub_client_key": getattr(created, "pub_client_key", None),
            "neon_auth_secret_server_key": (str(getter() if getter else secret)
                                            if secret else None),
            "neon_auth_jwks_url": getattr(created, "jwks_url", None),
        }


def validate_project(i: ProjectInputs) -> list[v.Failure]:
    lim = i.limits
    out = v.tenant_id(i.tenant_id)
    out += v.database_name(i.database_name)
    out += v.role_name(i.role_name)
    out += v.history_retention(i.history_retention_seconds, lim)
    out += v.compute_range(i.min_cu, i.max_cu, lim)
    out += v.suspend_timeout(i.suspend_timeout_seconds, lim)
    if i.org != lim.org:
        out.append(v.Failure("org", f"org {i.org!r} does not match tier {lim.tier}'s org "
                                    f"{lim.org!r}"))
    return out


def _quota(i: ProjectInputs) -> ProjectQuota:
    from neon_tenants.client.models.projects import ProjectQuota

    return ProjectQuota(**{k: getattr(i, k) for k in QUOTA_KEYS})


def _compute(i: ProjectInputs) -> tuple[float, float, int]:
    return (float(i.min_cu), float(i.max_cu), int(i.suspend_timeout_seconds))


def _endpoint_settings(i: ProjectInputs) -> DefaultEndpointSettings:
    from neon_tenants.client.models.projects import DefaultEndpointSettings

    return DefaultEndpointSettings(
        autoscaling_limit_min_cu=i.min_cu, autoscaling_limit_max_cu=i.max_cu,
        suspend_timeout_seconds=i.suspend_timeout_seconds,
    )


def _endpoint_limits(ep: Endpoint) -> tuple[float, float, int]:
    return (float(ep.autoscaling_limit_min_cu or 0), float(ep.autoscaling_limit_max_cu or 0),
            int(ep.suspend_timeout_seconds or 0))


def _create_body(i: ProjectInputs) -> ProjectCreate:
    from neon_tenants.client.models.projects import (
        ProjectBranchSpec,
        ProjectCreate,
        ProjectSettings,
    )

    return ProjectCreate(
        name=i.name, region_id=i.region_id, pg_version=i.pg_version,
        history_retention_seconds=i.history_retention_seconds,
        branch=ProjectBranchSpec(name=DEFAULT_BRANCH_NAME, role_name=i.role_name,
                                 database_name=i.database_name),
        default_endpoint_settings=_endpoint_settings(i),
        settings=ProjectSettings(quota=_quota(i)),
    )


def _settings_patch(old: ProjectInputs | None, new: ProjectInputs) -> ProjectUpdate | None:
    """One PATCH carrying every changed setting (all of them when `old` is None)."""
    from neon_tenants.client.models.projects import ProjectSettings, ProjectUpdate

    body: dict[str, Any] = {}
    if old is None or old.name != new.name:
        body["name"] = new.name
    if old is None or old.history_retention_seconds != new.history_retention_seconds:
        body["history_retention_seconds"] = new.history_retention_seconds
    if old is None or _quota(old) != _quota(new):
        body["settings"] = ProjectSettings(quota=_quota(new))
    if old is None or _compute(old) != _compute(new):
        body["default_endpoint_settings"] = _endpoint_settings(new)
    return ProjectUpdate(**body) if body else None


class TenantProjectProvider(NeonProvider[ProjectInputs, ProjectState]):
    inputs_model = ProjectInputs
    state_model = ProjectState
    # the name is the idempotency key: the old project must go before its successor appears
    delete_before_replace = True

    def validate(self, inputs: ProjectInputs) -> list[v.Failure]:
        return validate_project(inputs)

    # -- create -----------------------------------------------------------------------------

    def create_resource(self, client: NeonClient, i: ProjectInputs) -> tuple[str, ProjectState]:
        api = client.org(i.org)
        if i.adopt_project_id:  # the PATCH answers 404 for a project this org cannot see
            return i.adopt_project_id, self._converge(client, api, i, i.adopt_project_id)
        ensured = api.create_project_idempotent(_create_body(i), known_absent=i.first_attempt)
        if ensured.response is None:  # found by name (a rerun after a crash) or a lost reply
            return ensured.project.id, self._converge(client, api, i, ensured.project.id)
        return ensured.project.id, self._from_reply(client, api, i, ensured.response)

    def _from_reply(
        self, client: NeonClient, api: OrgClient, i: ProjectInputs, created: CreatedProject
    ) -> ProjectState:
        """Outputs from the create reply (branch, endpoint, connection details): no reads."""
        project, branch = created.project, created.branch
        ep = read_write(created.endpoints, branch.id)
        details = next((d for d in created.connection_uris
                        if (d.connection_parameters.database, d.connection_parameters.role)
                        == (i.database_name, i.role_name)), None)
        params = details.connection_parameters if details is not None else None
        if details is None or params is None or not params.pooler_host:
            direct, pooled = uris(api, project.id, i.database_name, i.role_name, branch.id)
        else:
            direct = details.connection_uri.get_secret_value()
            pooled = pooled_uri(direct, params.host, params.pooler_host)
        return _state_of(client, api, i, project, branch.id, ep, direct, pooled)

    def _converge(
        self, client: NeonClient, api: OrgClient, i: ProjectInputs, project_id: str
    ) -> ProjectState:
        """An existing project (adopted, or found by name): apply every setting in one PATCH
        (whose reply is the project), then read branch, endpoint and URIs."""
        from neon_tenants.client.models.endpoints import EndpointUpdate

        patch = _settings_patch(None, i)
        assert patch is not None
        project = api.update_project(project_id, patch)
        branch = default_branch(api, project.id)
        ep = read_write_endpoint(api, project.id, branch.id)
        if ep is not None and _endpoint_limits(ep) != _compute(i):
            ep = api.update_endpoint(project.id, ep.id, EndpointUpdate(
                **_endpoint_settings(i).model_dump(exclude={"pg_settings"})))
        direct, pooled = uris(api, project.id, i.database_name, i.role_name, branch.id)
        return _state_of(client, api, i, project, branch.id, ep, direct, pooled)

    # -- update -----------------------------------------------------------------------------

    def update_resource(
        self, client: NeonClient, id_: str, old: ProjectState, new: ProjectInputs
    ) -> ProjectState:
        """Transfer (tier change), one PATCH of the changed settings, the endpoint's limits
        when they changed, add-ons only when involved; ids, host and URIs do not move."""
        from neon_tenants.client.models.endpoints import EndpointUpdate

        api = client.org(new.org)
        org_id = old.org_id
        if new.org != old.org:
            org_id = self._transfer(client, id_, old, new)
        patch = _settings_patch(old, new)
        if patch is not None:
            api.update_project(id_, patch)
        endpoint_id, host = old.endpoint_id, old.host
        if _compute(old) != _compute(new) and old.default_branch_id:
            ep = read_write_endpoint(api, id_, old.default_branch_id)
            if ep is not None and _endpoint_limits(ep) != _compute(new):
                ep = api.update_endpoint(id_, ep.id, EndpointUpdate(
                    **_endpoint_settings(new).model_dump(exclude={"pg_settings"})))
            if ep is not None:
                endpoint_id, host = ep.id, ep.host
        url = old.data_api_url
        keys = _AuthKeys(old, new.neon_auth)
        if addons_involved(old.neon_auth, old.data_api, new.neon_auth, new.data_api):
            url = sync_addons(api, id_, old.default_branch_id, new.database_name,
                              new.neon_auth, new.data_api, on_auth_created=keys)
        return ProjectState(
            **new.model_dump(), project_id=id_, org_id=org_id or org_id_for(client, new.org),
            default_branch_id=old.default_branch_id, endpoint_id=endpoint_id, host=host,
            connection_uri=old.connection_uri, pooled_connection_uri=old.pooled_connection_uri,
            data_api_url=url, **keys.values,
        )

    def _transfer(
        self, client: NeonClient, id_: str, old: ProjectState, new: ProjectInputs
    ) -> str:
        """Move the project to the new tier's org; a rerun after a crash finds it moved."""
        dst = org_id_for(client, new.org)
        moved = or_none(lambda: client.org(new.org).get_project(id_))
        if moved is not None and moved.org_id == dst:
            return dst
        src = old.org_id or org_id_for(client, old.org)
        client.personal.transfer_projects(source_org_id=src, destination_org_id=dst,
                                          project_ids=[id_])
        return dst

    # -- read / delete ----------------------------------------------------------------------

    def read_resource(
        self, client: NeonClient, id_: str, s: ProjectState
    ) -> ProjectState | None:
        found = _locate(client, id_, s.org)
        if found is None:
            return None
        alias, project = found
        api = client.org(alias)
        live_quota = (project.settings or {}).get("quota") or {}
        branch = default_branch(api, id_)
        ep = read_write_endpoint(api, id_, branch.id)
        direct, pooled = uris(api, id_, s.database_name, s.role_name, branch.id)
        update: dict[str, Any] = {
            "org": alias,  # moved out of band: the next up transfers it back
            "org_id": project.org_id or s.org_id,
            "name": project.name,
            "region_id": project.region_id or s.region_id,
            "pg_version": project.pg_version or s.pg_version,
            "history_retention_seconds": (
                project.history_retention_seconds
                if project.history_retention_seconds is not None
                else s.history_retention_seconds
            ),
            **{k: int(live_quota.get(k) or 0) for k in QUOTA_KEYS},
            "default_branch_id": branch.id,
            "endpoint_id": ep.id if ep is not None else "",
            "host": ep.host if ep is not None else "",
            "connection_uri": direct, "pooled_connection_uri": pooled,
        }
        if ep is not None:
            update.update(zip(COMPUTE_FIELDS, _endpoint_limits(ep), strict=True))
        if addons_involved(s.neon_auth, s.data_api):
            auth, url = read_addons(api, id_, branch.id, s.database_name)
            update.update(neon_auth=auth, data_api=url is not None, data_api_url=url)
        return s.model_copy(update=update)

    def delete_resource(self, client: NeonClient, id_: str, s: ProjectState) -> None:
        if s.protected:
            raise ProviderError(
                f"project {id_} of tenant {s.tenant_id} is protected: set protected=false "
                "and run `up` before deleting it"
            )
        or_none(lambda: client.org(s.org).delete_project(id_))


def _locate(client: NeonClient, project_id: str, alias: str) -> tuple[str, Project] | None:
    """(org alias, project) from the expected org first, then any other configured org."""
    from neon_tenants.client.errors import Forbidden, NotFound

    aliases = [alias] + [a for a in client.credentials.orgs if a != alias]
    for candidate in aliases:
        try:
            project = client.org(candidate).get_project(project_id)
        except (NotFound, Forbidden):  # another org's key does not see the project
            continue
        if not getattr(project, "deleted_at", None):
            return candidate, project
    return None


class NeonTenantProject(NeonResource, module="neon", name="NeonTenantProject"):
    """Type token `pulumi-python:dynamic/neon:NeonTenantProject`."""

    provider_class = TenantProjectProvider
    project_id: pulumi.Output[str]
    org_id: pulumi.Output[str]
    default_branch_id: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    host: pulumi.Output[str]
    database_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    connection_uri: pulumi.Output[str]
    pooled_connection_uri: pulumi.Output[str]
    data_api_url: pulumi.Output[str | None]
    neon_auth_pub_client_key: pulumi.Output[str | None]
    neon_auth_secret_server_key: pulumi.Output[str | None]
    neon_auth_jwks_url: pulumi.Output[str | None]


def _state_of(
    client: NeonClient, api: OrgClient, i: ProjectInputs, project: Any, branch_id: str,
    ep: Any, direct: str, pooled: str,
) -> ProjectState:
    """The state of a project just created or converged: add-ons synced only when involved
    (no add-on reads when both are off), ids, host and URIs from what the caller read."""
    keys = _AuthKeys(None, i.neon_auth)
    url = (sync_addons(api, project.id, branch_id, i.database_name, i.neon_auth, i.data_api,
                       on_auth_created=keys)
           if addons_involved(i.neon_auth, i.data_api) else None)
    return ProjectState(
        **i.model_dump(), project_id=project.id,
        org_id=project.org_id or org_id_for(client, i.org), default_branch_id=branch_id,
        endpoint_id=ep.id if ep is not None else "", host=ep.host if ep is not None else "",
        connection_uri=direct, pooled_connection_uri=pooled, data_api_url=url,
        **keys.values,
    )
