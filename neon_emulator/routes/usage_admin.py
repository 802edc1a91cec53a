"""Developer API for usage monitoring (issue 13): set a project's counters, seed many projects.

`PUT /_emulator/projects/{id}/usage` gives a project's default branch the counters of the
current billing period (metadata backend: there is no real traffic to measure), so a quota can
be approached, crossed and seen suspending computes; `compute_last_active_at` marks activity
for the inactive-tenant cleanup. `POST /_emulator/seed_projects` writes project + default
branch records straight into the world (no operations, no computes): 30,000 tenants for the
monitoring benchmark in seconds instead of 30,000 API creates behind a 700/min key.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from neon_emulator.compute.backend import BranchSource, BranchUsage
from neon_emulator.compute.metadata import MetadataBackend
from neon_emulator.deps import RuntimeDep
from neon_emulator.engine import ids, provision
from neon_emulator.errors import ApiError, not_found
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import BranchRecord, ProjectRecord

router = APIRouter(prefix="/_emulator", tags=["emulator"])
Json = dict[str, Any]


class UsageIn(BaseModel):
    """Counters since the start of the billing period; absent fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    active_time_seconds: int | None = Field(default=None, ge=0)
    compute_time_seconds: int | None = Field(default=None, ge=0)
    written_data_bytes: int | None = Field(default=None, ge=0)
    data_transfer_bytes: int | None = Field(default=None, ge=0)
    logical_size_bytes: int | None = Field(default=None, ge=0)
    compute_last_active_at: str | None = None


class BulkUsageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projects: dict[str, UsageIn]


class SeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(description="org alias (free, paid)")
    count: int = Field(ge=1, le=100_000)
    name_prefix: str = "seed"
    quota: dict[str, int] = Field(default_factory=dict)


def _metadata(rt: Runtime) -> MetadataBackend:
    if not isinstance(rt.backend, MetadataBackend):
        raise ApiError(409, "only the metadata backend takes set usage counters", code="CONFLICT")
    return rt.backend


def _apply(rt: Runtime, project_id: str, body: UsageIn, branch: BranchRecord | None) -> Json:
    """Counters need the metadata backend (Postgres measures real ones); the last-activity
    stamp is control-plane metadata and works with either backend."""
    p = rt.store.world.projects.get(project_id)
    if p is None or p.deleted_at or branch is None:
        raise not_found(f"project {project_id}")
    fields = body.model_dump(exclude_none=True, exclude={"compute_last_active_at"})
    out: Json = {"project_id": project_id, "branch_id": branch.id}
    if fields:
        backend = _metadata(rt)
        old = backend.counters.get(project_id, {}).get(branch.id) or BranchUsage()
        new = BranchUsage(**{**vars(old), **fields})
        backend.set_usage(project_id, branch.id, new)
        out.update(vars(new))
    if body.compute_last_active_at is not None:
        p.compute_last_active_at = body.compute_last_active_at
    out["quota_exceeded"] = rt.backend.quota_exceeded(project_id)
    return out


@router.put("/projects/{project_id}/usage")
def set_usage(project_id: str, body: UsageIn, rt: RuntimeDep) -> Json:
    with rt.store.lock:
        out = _apply(rt, project_id, body, rt.store.default_branch(project_id))
    rt.changed()
    return out


@router.put("/usage")
def set_usage_bulk(body: BulkUsageIn, rt: RuntimeDep) -> Json:
    """Many projects in one call (benchmarks): all ids are checked before any is changed."""
    _metadata(rt)
    with rt.store.lock:
        missing = [pid for pid in body.projects if pid not in rt.store.world.projects]
        if missing:
            raise not_found(f"projects {missing[:5]}")
        defaults = {b.project_id: b for b in rt.store.world.branches.values()
                    if b.default and b.project_id in body.projects}  # one pass, not one each
        for pid, usage in body.projects.items():
            _apply(rt, pid, usage, defaults.get(pid))
    rt.changed()
    return {"updated": len(body.projects)}


@router.post("/seed_projects")
def seed_projects(body: SeedIn, rt: RuntimeDep) -> Json:
    """Project + ready default branch records, no endpoint: what monitoring reads, nothing
    more. Ids are returned in creation order."""
    backend = _metadata(rt)
    with rt.store.lock:
        w = rt.store.world
        org = next((o for o in w.orgs.values() if o.alias == body.org), None)
        if org is None:
            raise not_found(f"organization alias {body.org}")
        created: list[str] = []
        settings: Json = {"quota": dict(body.quota)} if body.quota else {}
        for i in range(body.count):
            ts = provision.now(rt)
            pid = ids.project_id()
            p = ProjectRecord(id=pid, org_id=org.id, name=f"{body.name_prefix}-{i:05d}",
                              region_id=rt.settings.region_id, settings=dict(settings),
                              history_retention_seconds=min(
                                  86_400, org.limits.max_history_retention_seconds),
                              created_at=ts, updated_at=ts)
            w.projects[pid] = p
            bid = ids.branch_id()
            w.branches[bid] = BranchRecord(id=bid, project_id=pid, name="main", default=True,
                                           current_state="ready", pending_state=None,
                                           state_changed_at=ts, created_at=ts, updated_at=ts)
            backend.create_branch(pid, bid, source=BranchSource(), roles=[], databases=[],
                                  pg_version=p.pg_version)
            backend.set_quota(pid, provision.quota_policy(p))
            created.append(pid)
    rt.changed()
    return {"org_id": org.id, "project_ids": created}
