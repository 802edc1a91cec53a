"""Quota: a project's `settings.quota` and compute limits, as a resource of its own.

Kept apart from the project so that a tier change or a per-tenant override updates quotas
without touching the project. It takes the project's `org_id` output as an input, so on a
tier change it runs after the transfer and updates with the new org's key. Deleting it
changes nothing in Neon: the limits go away with the project (leaving a tenant unlimited
because a resource was dropped from the program would be the wrong default).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from neon_tenants.catalog import QUOTA_KEYS, Limits
from neon_tenants.catalog import validate as v
from neon_tenants.providers._base import (
    STATE_CONFIG,
    NeonProvider,
    NeonResource,
    ResourceInputs,
    mark,
)
from neon_tenants.providers._common import or_none, read_write_endpoint


class QuotaInputs(ResourceInputs):
    project_id: str = Field(min_length=1, json_schema_extra=mark(replace=True))
    org: str
    org_id: str = ""
    default_branch_id: str = ""
    active_time_seconds: int = Field(default=0, ge=0)
    compute_time_seconds: int = Field(default=0, ge=0)
    written_data_bytes: int = Field(default=0, ge=0)
    data_transfer_bytes: int = Field(default=0, ge=0)
    logical_size_bytes: int = Field(default=0, ge=0)
    min_cu: float = 0.25
    max_cu: float = 2
    suspend_timeout_seconds: int = 0
    limits: Limits = Field(json_schema_extra=mark(nodiff=True))


class QuotaState(QuotaInputs):
    model_config = STATE_CONFIG


class QuotaProvider(NeonProvider[QuotaInputs, QuotaState]):
    inputs_model = QuotaInputs
    state_model = QuotaState

    def validate(self, inputs: QuotaInputs) -> list[v.Failure]:
        out = v.compute_range(inputs.min_cu, inputs.max_cu, inputs.limits)
        out += v.suspend_timeout(inputs.suspend_timeout_seconds, inputs.limits)
        if inputs.org != inputs.limits.org:
            out.append(v.Failure("org", f"org {inputs.org!r} does not match tier "
                                        f"{inputs.limits.tier}'s org {inputs.limits.org!r}"))
        return out

    def _apply(self, client: Any, i: QuotaInputs) -> QuotaState:
        from neon_tenants.client.models.endpoints import EndpointUpdate
        from neon_tenants.client.models.projects import (
            DefaultEndpointSettings,
            ProjectQuota,
            ProjectSettings,
            ProjectUpdate,
        )

        api = client.org(i.org)
        quota = ProjectQuota(**{k: getattr(i, k) for k in QUOTA_KEYS})
        api.update_project(i.project_id, ProjectUpdate(
            settings=ProjectSettings(quota=quota),
            default_endpoint_settings=DefaultEndpointSettings(
                autoscaling_limit_min_cu=i.min_cu, autoscaling_limit_max_cu=i.max_cu,
                suspend_timeout_seconds=i.suspend_timeout_seconds,
            ),
        ))
        if i.default_branch_id:
            ep = read_write_endpoint(api, i.project_id, i.default_branch_id)
            if ep is not None and _endpoint_limits(ep) != (
                i.min_cu, i.max_cu, i.suspend_timeout_seconds
            ):
                api.update_endpoint(i.project_id, ep.id, EndpointUpdate(
                    autoscaling_limit_min_cu=i.min_cu, autoscaling_limit_max_cu=i.max_cu,
                    suspend_timeout_seconds=i.suspend_timeout_seconds,
                ))
        return QuotaState(**i.model_dump())

    def create_resource(self, client: Any, i: QuotaInputs) -> tuple[str, QuotaState]:
        return i.project_id, self._apply(client, i)

    def update_resource(
        self, client: Any, id_: str, old: QuotaState, new: QuotaInputs
    ) -> QuotaState:
        return self._apply(client, new)

    def read_resource(self, client: Any, id_: str, s: QuotaState) -> QuotaState | None:
        """The live quota and limits, so console edits show up as drift the next up repairs."""
        api = client.org(s.org)
        project = or_none(lambda: api.get_project(s.project_id))
        if project is None or getattr(project, "deleted_at", None):
            return None
        live_quota = ((project.settings or {}).get("quota") or {})
        update: dict[str, Any] = {k: int(live_quota.get(k) or 0) for k in QUOTA_KEYS}
        des = project.default_endpoint_settings or {}
        ep = read_write_endpoint(api, s.project_id, s.default_branch_id) \
            if s.default_branch_id else None
        if ep is not None:
            update["min_cu"], update["max_cu"], update["suspend_timeout_seconds"] = \
                _endpoint_limits(ep)
        else:
            update["min_cu"] = des.get("autoscaling_limit_min_cu", s.min_cu)
            update["max_cu"] = des.get("autoscaling_limit_max_cu", s.max_cu)
            update["suspend_timeout_seconds"] = des.get("suspend_timeout_seconds",
                                                        s.suspend_timeout_seconds)
        update["org_id"] = project.org_id or s.org_id
        return s.model_copy(update=update)

    def delete_resource(self, client: Any, id_: str, s: QuotaState) -> None:
        return None


def _endpoint_limits(ep: Any) -> tuple[float, float, int]:
    return (float(ep.autoscaling_limit_min_cu or 0), float(ep.autoscaling_limit_max_cu or 0),
            int(ep.suspend_timeout_seconds or 0))


class Quota(NeonResource, module="neon", name="Quota"):
    """Type token `pulumi-python:dynamic/neon:Quota`."""

    provider_class = QuotaProvider
    project_id: pulumi.Output[str]
    org_id: pulumi.Output[str]
