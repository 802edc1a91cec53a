"""Roles and databases per branch (spec tag Branch): SQL applied by the backend as
`apply_config` operations; passwords are stored and revealed (412 without store_passwords)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from neon_emulator.compute.backend import RoleSpec
from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, provision
from neon_emulator.engine.operations import Step
from neon_emulator.errors import ApiError, conflict
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import (
    DatabaseCreateRequest,
    DatabaseUpdateRequest,
    RoleCreateRequest,
)
from neon_emulator.runtime import Runtime

router = APIRouter(tags=["Branch"])
Json = dict[str, Any]
PREFIX = "/projects/{project_id}/branches/{branch_id}"


def _op(rt: Runtime, pid: str, bid: str, work: Any, done: Any = None) -> Step:
    return Step(op=rt.runner.new_op(pid, "apply_config", branch_id=bid), work=work, done=done)


def _reply(key: str, record: Json, step: Step) -> Json:
    """The body of every mutation here: the record and its one operation (render it under
    the lock, before the worker can move the operation on)."""
    return {key: record, "operations": [render.operation(step.op)]}


def _start(rt: Runtime, pid: str, step: Step, out: Json) -> Json:
    """Submit once the store lock is released, persist, answer."""
    rt.submit(pid, [step])
    return out


@router.get(PREFIX + "/databases")
def list_databases(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        _, b = rt.store.project_branch(caller, project_id, branch_id)
        return {"databases": [render.database(d) for d in rt.store.databases_of(b.id)]}


@router.post(PREFIX + "/databases", status_code=201)
def create_database(project_id: str, branch_id: str, body: DatabaseCreateRequest,
                    rt: RuntimeDep, caller: CallerDep) -> Json:
    req = body.database
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        rt.runner.ensure_unlocked(p.id)
        if f"{b.id}/{req.name}" in rt.store.world.databases:
            raise conflict(f"database {req.name} already exists")
        rt.store.role(b.id, req.owner_name)
        d = provision.add_database(rt, p.id, b.id, req.name, req.owner_name)
        pid, bid = p.id, b.id
        step = _op(rt, pid, bid, lambda: rt.backend.create_database(pid, bid, req.name,
                                                                     req.owner_name))
        out = _reply("database", render.database(d), step)
    return _start(rt, pid, step, out)


@router.get(PREFIX + "/databases/{database_name}")
def get_database(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                 caller: CallerDep) -> Json:
    with rt.store.lock:
        _, b = rt.store.project_branch(caller, project_id, branch_id)
        return {"database": render.database(rt.store.database(b.id, database_name))}


@router.patch(PREFIX + "/databases/{database_name}")
def update_database(project_id: str, branch_id: str, database_name: str,
                    body: DatabaseUpdateRequest, rt: RuntimeDep, caller: CallerDep) -> Json:
    req = body.database
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        d = rt.store.database(b.id, database_name)
        rt.runner.ensure_unlocked(p.id)
        w = rt.store.world
        if req.owner_name:
            rt.store.role(b.id, req.owner_name)
            d.owner_name = req.owner_name
        if req.name and req.name != d.name:
            if f"{b.id}/{req.name}" in w.databases:
                raise conflict(f"database {req.name} already exists")
            del w.databases[f"{b.id}/{d.name}"]
            d.name = req.name
            w.databases[f"{b.id}/{d.name}"] = d
        d.updated_at = provision.now(rt)
        step = _op(rt, p.id, b.id, None)
        out = _reply("database", render.database(d), step)
    return _start(rt, p.id, step, out)


@router.delete(PREFIX + "/databases/{database_name}", response_model=None)
def delete_database(project_id: str, branch_id: str, database_name: str, rt: RuntimeDep,
                    caller: CallerDep) -> Json | Response:
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        d = rt.store.world.databases.get(f"{b.id}/{database_name}")
        if d is None:
            return Response(status_code=204)
        rt.runner.ensure_unlocked(p.id)
        del rt.store.world.databases[f"{b.id}/{database_name}"]
        pid, bid = p.id, b.id
        step = _op(rt, pid, bid, lambda: rt.backend.delete_database(pid, bid, database_name))
        out = _reply("database", render.database(d), step)
    return _start(rt, pid, step, out)


@router.get(PREFIX + "/roles")
def list_roles(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        _, b = rt.store.project_branch(caller, project_id, branch_id)
        return {"roles": [render.role(r) for r in rt.store.roles_of(b.id)]}


@router.post(PREFIX + "/roles", status_code=201)
def create_role(project_id: str, branch_id: str, body: RoleCreateRequest, rt: RuntimeDep,
                caller: CallerDep) -> Json:
    req = body.role
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        rt.runner.ensure_unlocked(p.id)
        if f"{b.id}/{req.name}" in rt.store.world.roles:
            raise conflict(f"role {req.name} already exists")
        r = provision.add_role(rt, p.id, b.id, req.name, no_login=bool(req.no_login))
        pid, bid, spec = p.id, b.id, RoleSpec(r.name, r.password)
        step = _op(rt, pid, bid, lambda: rt.backend.create_role(pid, bid, spec))
        out = _reply("role", render.role(r, with_password=True), step)
    return _start(rt, pid, step, out)


@router.get(PREFIX + "/roles/{role_name}")
def get_role(project_id: str, branch_id: str, role_name: str, rt: RuntimeDep,
             caller: CallerDep) -> Json:
    with rt.store.lock:
        _, b = rt.store.project_branch(caller, project_id, branch_id)
        return {"role": render.role(rt.store.role(b.id, role_name))}


@router.delete(PREFIX + "/roles/{role_name}", response_model=None)
def delete_role(project_id: str, branch_id: str, role_name: str, rt: RuntimeDep,
                caller: CallerDep) -> Json | Response:
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        r = rt.store.world.roles.get(f"{b.id}/{role_name}")
        if r is None:
            return Response(status_code=204)
        if any(d.owner_name == role_name for d in rt.store.databases_of(b.id)):
            raise conflict(f"role {role_name} owns databases; delete or reassign them first")
        rt.runner.ensure_unlocked(p.id)
        del rt.store.world.roles[f"{b.id}/{role_name}"]
        pid, bid = p.id, b.id
        step = _op(rt, pid, bid, lambda: rt.backend.delete_role(pid, bid, role_name))
        out = _reply("role", render.role(r), step)
    return _start(rt, pid, step, out)


@router.get(PREFIX + "/roles/{role_name}/reveal_password")
def reveal_password(project_id: str, branch_id: str, role_name: str, rt: RuntimeDep,
                    caller: CallerDep) -> Json:
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        r = rt.store.role(b.id, role_name)
        if not p.store_passwords:
            raise ApiError(412, "the project does not store passwords",
                           code="PRECONDITION_FAILED")
        return {"password": r.password}


@router.post(PREFIX + "/roles/{role_name}/reset_password")
def reset_password(project_id: str, branch_id: str, role_name: str, rt: RuntimeDep,
                   caller: CallerDep) -> Json:
    """The old password keeps working until the operation finishes (CONTRACT.md section 5)."""
    with rt.store.lock:
        p, b = rt.store.project_branch(caller, project_id, branch_id)
        r = rt.store.role(b.id, role_name)
        rt.runner.ensure_unlocked(p.id)
        new_password = ids.password()
        pid, bid, spec = p.id, b.id, RoleSpec(r.name, new_password)

        def done() -> None:
            r.password = new_password
            r.updated_at = provision.now(rt)

        step = _op(rt, pid, bid, lambda: rt.backend.set_role_password(pid, bid, spec), done)
        shown = r.model_copy(update={"password": new_password})
        out = _reply("role", render.role(shown, with_password=True), step)
    return _start(rt, pid, step, out)
