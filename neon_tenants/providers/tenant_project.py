"""NeonTenantProject: the Neon project of one tenant, in the organization of its tier.

A tier change is an in-place transfer with the personal key (never a replace: the Terraform
provider's ForceNew `org_id` destroyed data, STYLE.md section 3). Region, Postgres version,
and the default database/role are fixed at create, so changing them is a replace, shown at
preview. Compute limits are applied at create; afterwards the Quota resource owns them.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from neon_tenants.catalog import Limits
from neon_tenants.catalog import validate as v
from neon_tenants.providers._addons import read_addons, sync_addons
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
    read_write_endpoint,
    uris,
)

DEFAULT_BRANCH_NAME = "production"


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
    # read at create only (afterwards the Quota resource owns compute limits)
    min_cu: float = Field(default=0.25, json_schema_extra=mark(nodiff=True))
    max_cu: float = Field(default=2, json_schema_extra=mark(nodiff=True))
    suspend_timeout_seconds: int = Field(default=0, json_schema_extra=mark(nodiff=True))
    adopt_project_id: str | None = Field(default=None, json_schema_extra=mark(nodiff=True))
    limits: Limits = Field(json_schema_extra=mark(nodiff=True))


class ProjectState(ProjectInputs):
    model_config = STATE_CONFIG

    project_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    org_id: str = Field(default="", json_schema_extra=mark(output=True))
    default_branch_id: str = Field(default="", json_schema_extra=mark(output=True))
    endpoint_id: str = Field(default="", json_schema_extra=mark(output=True))
    host: str = Field(default="", json_schema_extra=mark(output=True))
    connection_uri: str = Field(default="", json_schema_extra=mark(output=True, secret=True))
    pooled_connection_uri: str = Field(
        default="", json_schema_extra=mark(output=True, secret=True)
    )
    data_api_url: str | None = Field(default=None, json_schema_extra=mark(output=True))


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


class TenantProjectProvider(NeonProvider[ProjectInputs, ProjectState]):
    inputs_model = ProjectInputs
    state_model = ProjectState
    # the name is the idempotency key: the old project must go before its successor appears
    delete_before_replace = True

    def validate(self, inputs: ProjectInputs) -> list[v.Failure]:
        return validate_project(inputs)

    def create_resource(self, client: Any, i: ProjectInputs) -> tuple[str, ProjectState]:
        from neon_tenants.client.models.projects import (
            DefaultEndpointSettings,
            ProjectBranchSpec,
            ProjectCreate,
        )

        api = client.org(i.org)
        if i.adopt_project_id:
            project = api.get_project(i.adopt_project_id)
            self._apply_settings(api, project.id, i)
        else:
            body = ProjectCreate(
                name=i.name, region_id=i.region_id, pg_version=i.pg_version,
                history_retention_seconds=i.history_retention_seconds,
                branch=ProjectBranchSpec(name=DEFAULT_BRANCH_NAME, role_name=i.role_name,
                                         database_name=i.database_name),
                default_endpoint_settings=DefaultEndpointSettings(
                    autoscaling_limit_min_cu=i.min_cu, autoscaling_limit_max_cu=i.max_cu,
                    suspend_timeout_seconds=i.suspend_timeout_seconds,
                ),
            )
            ensured = api.create_project_idempotent(body)
            project = ensured.project
            if not ensured.created:  # found by name: a rerun after a crash adopts it
                self._apply_settings(api, project.id, i)
        return project.id, self._observe(api, i, project.id, project.org_id)

    def _apply_settings(self, api: Any, project_id: str, i: ProjectInputs) -> None:
        from neon_tenants.client.models.projects import ProjectUpdate

        api.update_project(project_id, ProjectUpdate(
            name=i.name, history_retention_seconds=i.history_retention_seconds))

    def _observe(
        self, api: Any, i: ProjectInputs, project_id: str, org_id: str | None,
        sync: bool = True,
    ) -> ProjectState:
        """Outputs from the live project; `sync` also applies Neon Auth / Data API."""
        branch = default_branch(api, project_id)
        ep = read_write_endpoint(api, project_id, branch.id)
        direct, pooled = uris(api, project_id, i.database_name, i.role_name, branch.id)
        if sync:
            url = sync_addons(api, project_id, branch.id, i.database_name,
                              i.neon_auth, i.data_api)
        else:
            url = None
        return ProjectState(
            **i.model_dump(), project_id=project_id,
            org_id=org_id or org_id_for(i.org), default_branch_id=branch.id,
            endpoint_id=ep.id if ep is not None else "",
            host=ep.host if ep is not None else "",
            connection_uri=direct, pooled_connection_uri=pooled, data_api_url=url,
        )

    def update_resource(
        self, client: Any, id_: str, old: ProjectState, new: ProjectInputs
    ) -> ProjectState:
        from neon_tenants.client.models.projects import ProjectUpdate

        api = client.org(new.org)
        if new.org != old.org:
            self._transfer(client, id_, old, new)
        if (new.name, new.history_retention_seconds) != (
            old.name, old.history_retention_seconds
        ):
            api.update_project(id_, ProjectUpdate(
                name=new.name, history_retention_seconds=new.history_retention_seconds))
        project = api.get_project(id_)
        return self._observe(api, new, id_, project.org_id)

    def _transfer(self, client: Any, id_: str, old: ProjectState, new: ProjectInputs) -> None:
        """Move the project to the new tier's org; a rerun after a crash finds it moved."""
        dst = org_id_for(new.org)
        moved = or_none(lambda: client.org(new.org).get_project(id_))
        if moved is not None and moved.org_id == dst:
            return
        src = old.org_id or org_id_for(old.org)
        client.personal.transfer_projects(source_org_id=src, destination_org_id=dst,
                                          project_ids=[id_])

    def read_resource(self, client: Any, id_: str, s: ProjectState) -> ProjectState | None:
        found = _locate(client, id_, s.org)
        if found is None:
            return None
        alias, project = found
        api = client.org(alias)
        live = s.model_copy(update={
            "org": alias,  # moved out of band: the next up transfers it back
            "name": project.name,
            "region_id": project.region_id or s.region_id,
            "pg_version": project.pg_version or s.pg_version,
            "history_retention_seconds": (
                project.history_retention_seconds
                if project.history_retention_seconds is not None
                else s.history_retention_seconds
            ),
        })
        observed = self._observe(api, ProjectInputs.model_validate(
            live.model_dump(include=set(ProjectInputs.model_fields))), id_, project.org_id,
            sync=False)
        auth, url = (read_addons(api, id_, observed.default_branch_id, s.database_name)
                     if (s.neon_auth or s.data_api) else (False, None))
        return observed.model_copy(update={"neon_auth": auth, "data_api": url is not None,
                                           "data_api_url": url})

    def delete_resource(self, client: Any, id_: str, s: ProjectState) -> None:
        if s.protected:
            raise ProviderError(
                f"project {id_} of tenant {s.tenant_id} is protected: set protected=false "
                "and run `up` before deleting it"
            )
        or_none(lambda: client.org(s.org).delete_project(id_))


def _locate(client: Any, project_id: str, alias: str) -> tuple[str, Any] | None:
    """(org alias, project) from the expected org first, then any other configured org."""
    aliases = [alias] + [a for a in client.credentials.orgs if a != alias]
    from neon_tenants.client.errors import Forbidden, NotFound

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
