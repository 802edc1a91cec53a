"""Endpoints (spec tag Endpoint): create/list/get/update/delete, start, suspend, restart."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import limits, provision
from neon_emulator.engine.lifecycle import delete_endpoint_steps
from neon_emulator.engine.operations import Step
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import EndpointCreateRequest, EndpointUpdateRequest
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import EndpointRecord

router = APIRouter(tags=["Endpoint"])
Json = dict[str, Any]
log = logging.getLogger("neon_emulator.endpoints")


def endpoint_body(rt: Runtime, e: EndpointRecord) -> Json:
    """While no operation moves it, the backend knows the real state (autosuspend)."""
    state = None
    if e.pending_state is None:
        try:
            state = rt.backend.endpoint_state(e.project_id, e.id)
        except Exception:  # a backend hiccup must not break reads; use the recorded state
            log.debug("endpoint_state failed for %s", e.id, exc_info=True)
    return render.endpoint(e, state if state in ("active", "idle") else None)


@router.post("/projects/{project_id}/endpoints", status_code=201)
def create_endpoint(project_id: str, body: EndpointCreateRequest, rt: RuntimeDep,
                    caller: CallerDep) -> Json:
    req = body.endpoint
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, req.branch_id)
        rt.runner.ensure_unlocked(p.id)
        if not req.disabled:
            provision.ensure_can_start(rt, p.id)
        e = provision.new_endpoint(
            rt, p, b, type_=req.type, min_cu=req.autoscaling_limit_min_cu,
            max_cu=req.autoscaling_limit_max_cu, suspend=req.suspend_timeout_seconds,
            settings=req.settings, name=req.name, disabled=bool(req.disabled),
            provisioner=req.provisioner, passwordless_access=bool(req.passwordless_access))
        steps = [provision.endpoint_start_step(rt, e, register=True)]
        out = {"endpoint": render.endpoint(e),
               "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


@router.get("/projects/{project_id}/endpoints")
def list_endpoints(project_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        return {"endpoints": [endpoint_body(rt, e) for e in rt.store.endpoints_of(p.id)]}


@router.get("/projects/{project_id}/endpoints/{endpoint_id}")
def get_endpoint(project_id: str, endpoint_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        return {"endpoint": endpoint_body(rt, rt.store.endpoint(p.id, endpoint_id))}


@router.patch("/projects/{project_id}/endpoints/{endpoint_id}")
def update_endpoint(project_id: str, endpoint_id: str, body: EndpointUpdateRequest,
                    rt: RuntimeDep, caller: CallerDep) -> Json:
    req = body.endpoint
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        e = rt.store.endpoint(p.id, endpoint_id)
        rt.runner.ensure_unlocked(p.id)
        lim = provision.org_limits(rt, p)
        lo = req.autoscaling_limit_min_cu if req.autoscaling_limit_min_cu is not None else e.min_cu
        hi = req.autoscaling_limit_max_cu if req.autoscaling_limit_max_cu is not None else e.max_cu
        limits.check_cu(lim, lo, hi)
        if req.suspend_timeout_seconds is not None:
            limits.resolve_suspend(lim, req.suspend_timeout_seconds)
            e.suspend_timeout_seconds = req.suspend_timeout_seconds
        if req.branch_id is not None and req.branch_id != e.branch_id:
            rt.store.branch(p.id, req.branch_id)
            e.branch_id = req.branch_id
        e.min_cu, e.max_cu = lo, hi
        for field in ("settings", "name", "provisioner"):
            value = getattr(req, field)
            if value is not None:
                setattr(e, field, value)
        if req.disabled is not None:
            e.disabled = req.disabled
        if req.passwordless_access is not None:
            e.passwordless_access = req.passwordless_access
        e.updated_at = provision.now(rt)
        spec = provision.endpoint_spec(rt, e)
        op = rt.runner.new_op(p.id, "apply_config", branch_id=e.branch_id, endpoint_id=e.id)
        steps = [Step(op=op, work=lambda: rt.backend.update_endpoint(p.id, spec))]
        if e.disabled:
            sop = rt.runner.new_op(p.id, "suspend_compute", branch_id=e.branch_id,
                                   endpoint_id=e.id)
            steps.append(Step(op=sop, work=lambda: rt.backend.suspend_endpoint(p.id, e.id),
                              done=lambda: provision.set_endpoint_state(rt, e, "idle")))
        out = {"endpoint": render.endpoint(e),
               "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


@router.delete("/projects/{project_id}/endpoints/{endpoint_id}", response_model=None)
def delete_endpoint(project_id: str, endpoint_id: str, rt: RuntimeDep,
                    caller: CallerDep) -> Json | Response:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        e = rt.store.world.endpoints.get(endpoint_id)
        if e is None or e.project_id != p.id:
            return Response(status_code=204)
        rt.runner.ensure_unlocked(p.id)
        body = render.endpoint(e)
        steps = delete_endpoint_steps(rt, e)
        out = {"endpoint": body, "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


def _transition(rt: Runtime, caller: Any, project_id: str, endpoint_id: str,
                action: str) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        e = rt.store.endpoint(p.id, endpoint_id)
        rt.runner.ensure_unlocked(p.id)
        pid, eid = p.id, e.id
        if action == "suspend":
            op = rt.runner.new_op(pid, "suspend_compute", branch_id=e.branch_id,
                                  endpoint_id=eid)
            step = Step(op=op, work=lambda: rt.backend.suspend_endpoint(pid, eid),
                        done=lambda: provision.set_endpoint_state(rt, e, "idle"))
            e.pending_state = "idle"
        else:
            provision.ensure_can_start(rt, pid)
            op = rt.runner.new_op(pid, "start_compute", branch_id=e.branch_id, endpoint_id=eid)
            call = rt.backend.start_endpoint if action == "start" else rt.backend.restart_endpoint
            step = Step(op=op, work=lambda: call(pid, eid),
                        done=lambda: provision.set_endpoint_state(rt, e, "active"))
            e.pending_state = "active"
        out = {"endpoint": render.endpoint(e), "operations": [render.operation(op)]}
    rt.submit(pid, [step])
    return out


@router.post("/projects/{project_id}/endpoints/{endpoint_id}/start")
def start_endpoint(project_id: str, endpoint_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    return _transition(rt, caller, project_id, endpoint_id, "start")


@router.post("/projects/{project_id}/endpoints/{endpoint_id}/suspend")
def suspend_endpoint(project_id: str, endpoint_id: str, rt: RuntimeDep,
                     caller: CallerDep) -> Json:
    return _transition(rt, caller, project_id, endpoint_id, "suspend")


@router.post("/projects/{project_id}/endpoints/{endpoint_id}/restart")
def restart_endpoint(project_id: str, endpoint_id: str, rt: RuntimeDep,
                     caller: CallerDep) -> Json:
    return _transition(rt, caller, project_id, endpoint_id, "restart")
