"""DevBranch: a development branch with its own read-write endpoint.

Changing `reset_trigger` resets the branch to its parent's head: Neon has no reset route,
so it is `restore` with `source_branch_id` = the parent (CONTRACT.md section 2). Create looks
the branch up by name first, so a crash mid-update followed by a rerun adopts it.

The parent is identified by NAME (`parent`, a replace): `parent_branch_id` is read at
create and reset only, because a finalized snapshot restore gives the default branch a new
id while the dev branch keeps its data and its Neon parent; treating that id change as a
replace would delete the dev branch (issue 10 item 5). `parent_timestamp` / `parent_lsn`
create the branch from the parent's past (inside the retention window, checked before any
call by FleetManager and again here at create).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import DiffResult
from pydantic import Field

from neon_tenants.catalog import Limits
from neon_tenants.catalog import validate as v
from neon_tenants.providers._addons import addons_involved, read_addons, sync_addons
from neon_tenants.providers._base import (
    STATE_CONFIG,
    NeonProvider,
    NeonResource,
    ResourceInputs,
    clean,
    is_unknown,
    mark,
)
from neon_tenants.providers._common import (
    find_branch_by_name,
    or_none,
    read_write,
    read_write_endpoint,
    uris,
)
from neon_tenants.providers._time import CanonicalTime, canonical

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.endpoints import Endpoint


class DevBranchInputs(ResourceInputs):
    project_id: str = Field(min_length=1, json_schema_extra=mark(replace=True))
    org: str
    name: str
    parent_branch_id: str = Field(min_length=1, json_schema_extra=mark(nodiff=True))
    parent: str | None = Field(default=None, json_schema_extra=mark(replace=True))
    parent_timestamp: CanonicalTime = Field(default=None, json_schema_extra=mark(replace=True))
    parent_lsn: str | None = Field(default=None, json_schema_extra=mark(replace=True))
    min_cu: float = 0.25
    max_cu: float = 2
    suspend_timeout_seconds: int = 0
    expires_at: CanonicalTime = None
    reset_trigger: str | None = None
    database_name: str = "neondb"
    role_name: str = "neondb_owner"
    neon_auth: bool = False
    data_api: bool = False
    limits: Limits = Field(json_schema_extra=mark(nodiff=True))


class DevBranchState(DevBranchInputs):
    model_config = STATE_CONFIG

    branch_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    endpoint_id: str = Field(default="", json_schema_extra=mark(output=True, stable=True))
    host: str = Field(default="", json_schema_extra=mark(output=True))
    connection_uri: str = Field(default="", json_schema_extra=mark(output=True, secret=True))
    pooled_connection_uri: str = Field(
        default="", json_schema_extra=mark(output=True, secret=True)
    )
    data_api_url: str | None = Field(default=None, json_schema_extra=mark(output=True))


class DevBranchProvider(NeonProvider[DevBranchInputs, DevBranchState]):
    inputs_model = DevBranchInputs
    state_model = DevBranchState
    # create adopts an existing object of the same name (crash-safe reruns), so on a replace
    # the old one must be deleted first: otherwise the successor adopts it and the delete of
    # the "old" resource removes the adopted one
    delete_before_replace = True

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> Any:
        # state written before `parent` existed: the parent it was made from is the one
        # declared now (only a change of a recorded parent is a replace)
        if "parent" not in olds and "parent" in news:
            olds = {**olds, "parent": news["parent"]}
        return super().diff(_id, olds, news)

    def validate(self, i: DevBranchInputs) -> list[v.Failure]:
        out = v.branch_name(i.name)
        if i.parent_timestamp is not None and i.parent_lsn is not None:
            out.append(v.Failure("parent_lsn", "give parent_timestamp or parent_lsn, not both"))
        out += v.compute_range(i.min_cu, i.max_cu, i.limits)
        out += v.suspend_timeout(i.suspend_timeout_seconds, i.limits)
        out += v.database_name(i.database_name)
        out += v.role_name(i.role_name)
        return out

    def _diff(self, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """An unknown parent id under a known, unchanged project id is no change: the project
        is updated in place (a replace makes its id unknown too), and an in-place update never
        moves the default branch (only a refresh after a snapshot restore does)."""
        old, new = clean(olds), clean(news)
        if (is_unknown(new.get("parent_branch_id")) and not is_unknown(new.get("project_id"))
                and new.get("project_id") == old.get("project_id")):
            news = {**news, "parent_branch_id": old.get("parent_branch_id")}
        return super()._diff(olds, news)

    def _endpoint_opts(self, i: DevBranchInputs) -> dict[str, Any]:
        return {"autoscaling_limit_min_cu": i.min_cu, "autoscaling_limit_max_cu": i.max_cu,
                "suspend_timeout_seconds": i.suspend_timeout_seconds}

    def create_resource(self, client: NeonClient, i: DevBranchInputs) -> tuple[str, DevBranchState]:
        from neon_tenants.client.errors import AmbiguousOutcome
        from neon_tenants.client.models.branches import BranchCreate, BranchSpec
        from neon_tenants.client.models.endpoints import EndpointCreate, EndpointCreateOptions

        api = client.org(i.org)
        branch = find_branch_by_name(api, i.project_id, i.name)
        if branch is None:
            body = BranchCreate(branch=BranchSpec(
                parent_id=i.parent_branch_id, name=i.name, expires_at=i.expires_at,
                parent_timestamp=i.parent_timestamp, parent_lsn=i.parent_lsn))
            ep_opts = EndpointCreateOptions(type="read_write", **self._endpoint_opts(i))
            try:
                created = api.create_branch(i.project_id, body, endpoints=[ep_opts])
            except AmbiguousOutcome:
                branch = find_branch_by_name(api, i.project_id, i.name)
                if branch is None:
                    raise
            else:  # the reply carries the endpoint: no read-back (issue #16)
                branch = created.branch
                ep = read_write(created.endpoints, branch.id)
                if ep is not None:
                    return branch.id, self._observe(api, i, branch.id, sync=True, ep=ep)
        if read_write_endpoint(api, i.project_id, branch.id) is None:
            api.create_endpoint(i.project_id, EndpointCreate(
                branch_id=branch.id, type="read_write", **self._endpoint_opts(i)))
        return branch.id, self._observe(api, i, branch.id, sync=True)

    def _observe(
        self, api: OrgClient, i: DevBranchInputs, branch_id: str, sync: bool,
        ep: Endpoint | None = None, addons_were_on: bool = False,
    ) -> DevBranchState:
        """Outputs of the branch; `sync` also applies the endpoint limits and the add-ons
        (add-on routes only when one is on, or was on before this update)."""
        from neon_tenants.client.models.endpoints import EndpointUpdate

        ep = ep or read_write_endpoint(api, i.project_id, branch_id)
        if ep is None:
            raise RuntimeError(f"branch {branch_id} has no read-write endpoint")
        want = (i.min_cu, i.max_cu, i.suspend_timeout_seconds)
        have = (ep.autoscaling_limit_min_cu, ep.autoscaling_limit_max_cu,
                ep.suspend_timeout_seconds)
        if sync and have != want:
            ep = api.update_endpoint(i.project_id, ep.id, EndpointUpdate(**self._endpoint_opts(i)))
        direct, pooled = uris(api, i.project_id, i.database_name, i.role_name, branch_id, ep.id)
        url = None
        if sync and addons_involved(addons_were_on, i.neon_auth, i.data_api):
            url = sync_addons(api, i.project_id, branch_id, i.database_name, i.neon_auth,
                              i.data_api)
        return DevBranchState(**i.model_dump(), branch_id=branch_id, endpoint_id=ep.id,
                              host=ep.host, connection_uri=direct, pooled_connection_uri=pooled,
                              data_api_url=url)

    def update_resource(
        self, client: NeonClient, id_: str, old: DevBranchState, new: DevBranchInputs
    ) -> DevBranchState:
        from neon_tenants.client.models.branches import BranchUpdate

        api = client.org(new.org)
        if (new.name, new.expires_at) != (old.name, old.expires_at):
            api.update_branch(new.project_id, id_, BranchUpdate(name=new.name,
                                                                expires_at=new.expires_at))
        if new.reset_trigger != old.reset_trigger:
            api.restore_branch(new.project_id, id_, source_branch_id=new.parent_branch_id)
        return self._observe(api, new, id_, sync=True,
                             addons_were_on=old.neon_auth or old.data_api)

    def read_resource(
        self, client: NeonClient, id_: str, s: DevBranchState
    ) -> DevBranchState | None:
        api = client.org(s.org)
        branch = or_none(lambda: api.get_branch(s.project_id, id_))
        if branch is None:
            return None
        ep = read_write_endpoint(api, s.project_id, id_)
        update: dict[str, Any] = {"name": branch.name, "expires_at": canonical(branch.expires_at)}
        if ep is None:  # endpoint deleted out of band: a mismatch the next up repairs
            update.update(endpoint_id="", host="", min_cu=0.0, max_cu=0.0)
        else:
            update.update(endpoint_id=ep.id, host=ep.host,
                          min_cu=float(ep.autoscaling_limit_min_cu or 0),
                          max_cu=float(ep.autoscaling_limit_max_cu or 0),
                          suspend_timeout_seconds=int(ep.suspend_timeout_seconds or 0))
        if s.neon_auth or s.data_api:
            auth, url = read_addons(api, s.project_id, id_, s.database_name)
            update.update(neon_auth=auth, data_api=url is not None, data_api_url=url)
        return s.model_copy(update=update)

    def delete_resource(self, client: NeonClient, id_: str, s: DevBranchState) -> None:
        or_none(lambda: client.org(s.org).delete_branch(s.project_id, id_))


class DevBranch(NeonResource, module="neon", name="DevBranch"):
    """Type token `pulumi-python:dynamic/neon:DevBranch`."""

    provider_class = DevBranchProvider
    branch_id: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    host: pulumi.Output[str]
    connection_uri: pulumi.Output[str]
    pooled_connection_uri: pulumi.Output[str]
    data_api_url: pulumi.Output[str | None]
