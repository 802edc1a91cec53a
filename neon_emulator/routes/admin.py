"""The developer API under /_emulator (no auth, loopback only), LocalStack style: reset,
faults, lock windows, state and per-route request counters, clock, integrations, quotas."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from neon_emulator.compute.metadata import MetadataBackend
from neon_emulator.deps import RuntimeDep
from neon_emulator.engine.clock import iso
from neon_emulator.engine.expiry import ExpiryJob, purge_project
from neon_emulator.errors import ApiError, not_found
from neon_emulator.settings import FaultRule, RateLimitConfig

router = APIRouter(prefix="/_emulator", tags=["emulator"])
Json = dict[str, Any]


class FaultsIn(BaseModel):
    faults: list[FaultRule] = []


class LockIn(BaseModel):
    project_id: str = "*"
    seconds: float


class ClockIn(BaseModel):
    advance_seconds: float


class IntegrationIn(BaseModel):
    integration: str | None = "github"


class QuotaExceededIn(BaseModel):
    reason: str | None = None


@router.post("/reset")
def reset(rt: RuntimeDep) -> Json:
    """Back to the first-start world: projects gone, extra keys revoked, same credentials."""
    rt.runner.idle(timeout=30)
    with rt.store.lock:
        w = rt.store.world
        for pid in list(w.projects):
            purge_project(rt, pid)
        w.operations.clear()
        w.transfer_requests.clear()
        for k in w.keys.values():
            if k.id not in rt.initial_key_ids and not k.revoked:
                rt.store.revoke_key(k)
    if isinstance(rt.backend, MetadataBackend):
        rt.backend.failures.clear()
        rt.backend.exceeded.clear()
        rt.backend.counters.clear()
    rt.faults.replace([])
    rt.runner.lock_windows.clear()
    rt.ratelimiter.reset()
    rt.clock.offset = rt.clock.offset * 0
    with rt.counters_lock:
        rt.counters.clear()
    rt.persister.flush()
    return {"status": "reset"}


@router.get("/faults")
def get_faults(rt: RuntimeDep) -> Json:
    return {"faults": [r.model_dump() for r in rt.faults.rules]}


@router.put("/faults")
def put_faults(body: FaultsIn, rt: RuntimeDep) -> Json:
    rt.faults.replace(body.faults)
    return {"faults": [r.model_dump() for r in rt.faults.rules]}


@router.post("/lock")
def lock_window(body: LockIn, rt: RuntimeDep) -> Json:
    """Every mutation on the project ('*' = all) answers 423 for `seconds`."""
    rt.runner.lock_windows[body.project_id] = time.monotonic() + body.seconds
    return {"project_id": body.project_id, "seconds": body.seconds}


@router.put("/rate_limits")
def put_rate_limits(body: RateLimitConfig, rt: RuntimeDep) -> Json:
    rt.ratelimiter.config = body
    rt.ratelimiter.reset()
    return body.model_dump()


@router.get("/state")
def state(rt: RuntimeDep, full: bool = False) -> Json:
    with rt.store.lock:
        w = rt.store.world
        ops = Counter(o.status for o in w.operations.values())
        body: Json = {
            "now": iso(rt.clock.now()),
            "compute": rt.settings.compute,
            "ca_file": str(rt.settings.ca_file.resolve()),
            "orgs": {o.alias: {"id": o.id, "limits": o.limits.model_dump()}
                     for o in w.orgs.values()},
            "projects": sum(1 for p in w.projects.values() if not p.deleted_at),
            "deleted_projects": sum(1 for p in w.projects.values() if p.deleted_at),
            "branches": len(w.branches),
            "endpoints": len(w.endpoints),
            "snapshots": len(w.snapshots),
            "operations": dict(ops),
            "running_operations": ops.get("running", 0) + ops.get("scheduling", 0),
        }
        if full:
            body["world"] = w.model_dump(mode="json", exclude={"keys"})
    with rt.counters_lock:
        body["requests"] = dict(rt.counters)
        body["requests_total"] = sum(rt.counters.values())
    return body


@router.post("/clock")
def clock(body: ClockIn, rt: RuntimeDep) -> Json:
    return {"now": iso(rt.clock.advance(body.advance_seconds))}


@router.post("/expire")
def run_expiry(rt: RuntimeDep) -> Json:
    """Run the expiry job now (deterministic tests) instead of waiting for its tick."""
    return {"deleted_branches": ExpiryJob(rt).run_once()}


@router.post("/projects/{project_id}/integration")
def set_integration(project_id: str, body: IntegrationIn, rt: RuntimeDep) -> Json:
    with rt.store.lock:
        p = rt.store.world.projects.get(project_id)
        if p is None:
            raise not_found(f"project {project_id}")
        p.integration = body.integration
    rt.changed()
    return {"project_id": project_id, "integration": body.integration}


@router.post("/projects/{project_id}/quota_exceeded")
def set_quota_exceeded(project_id: str, body: QuotaExceededIn, rt: RuntimeDep) -> Json:
    """Simulate an exceeded quota (metadata backend only; Postgres measures real usage)."""
    if not isinstance(rt.backend, MetadataBackend):
        raise ApiError(409, "only the metadata backend can simulate quotas", code="CONFLICT")
    if body.reason is None:
        rt.backend.exceeded.pop(project_id, None)
    else:
        rt.backend.exceeded[project_id] = body.reason
    return {"project_id": project_id, "reason": body.reason}


@router.get("/projects/{project_id}/quota")
def get_quota(project_id: str, rt: RuntimeDep) -> Json:
    """What the control plane last passed to backend.set_quota (metadata backend)."""
    if not isinstance(rt.backend, MetadataBackend):
        raise ApiError(409, "only the metadata backend records quotas", code="CONFLICT")
    q = rt.backend.quotas.get(project_id)
    if q is None:
        raise not_found(f"quota of {project_id}")
    return dict(q.__dict__)


class ComputeFaultIn(BaseModel):
    method: str
    message: str = "injected compute failure"
    times: int = 1


@router.post("/compute_faults")
def compute_fault(body: ComputeFaultIn, rt: RuntimeDep) -> Json:
    """Make the next backend call(s) of `method` fail (metadata backend): the operation that
    runs it ends in status `error` with this message."""
    if not isinstance(rt.backend, MetadataBackend):
        raise ApiError(409, "only the metadata backend takes injected failures", code="CONFLICT")
    rt.backend.fail_next(body.method, body.message, body.times)
    return body.model_dump()
