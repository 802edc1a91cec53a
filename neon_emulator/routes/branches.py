"""Branches (spec tag Branch): create, list (CursorPagination), count, get, update, delete,
restore (incl. reset to parent), set_as_default, schema, compare_schema, branch endpoints."""

from __future__ import annotations

import base64
import difflib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import limits, provision
from neon_emulator.engine.clock import iso, parse_ts
from neon_emulator.engine.lifecycle import children_of, delete_branch_steps
from neon_emulator.engine.operations import Step
from neon_emulator.errors import ApiError, bad_request, conflict
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import (
    BranchCreateRequest,
    BranchRestoreRequest,
    BranchUpdateRequest,
)
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import BranchRecord

router = APIRouter(tags=["Branch"])
Json = dict[str, Any]


def branch_body(rt: Runtime, b: BranchRecord) -> Json:
    return render.branch(b, rt.backend.usage(b.project_id).get(b.id))


def annotation(b: BranchRecord) -> Json:
    return {"object": {"type": "console/branch", "id": b.id}, "value": b.annotations,
            "created_at": b.created_at, "updated_at": b.updated_at}


def _expires(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return iso(parse_ts(value))
    except ValueError as exc:
        raise bad_request("expires_at must be an RFC 3339 timestamp") from exc


@router.post("/projects/{project_id}/branches", status_code=201)
def create_branch(
    project_id: str, rt: RuntimeDep, caller: CallerDep,
    body: Annotated[BranchCreateRequest | None, Body()] = None,
) -> Json:
    req = body or BranchCreateRequest()
    spec = req.branch
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        rt.runner.ensure_unlocked(p.id)
        lim = provision.org_limits(rt, p)
        limits.check_count("branches per project", len(rt.store.branches_of(p.id)),
                           lim.max_branches)
        parent = (rt.store.branch(p.id, spec.parent_id) if spec and spec.parent_id
                  else rt.store.default_branch(p.id))
        if spec and spec.parent_lsn and spec.parent_timestamp:
            raise bad_request("parent_lsn and parent_timestamp are mutually exclusive")
        ts = _expires(spec.parent_timestamp) if spec else None
        lsn = spec.parent_lsn if spec else None
        init = (spec.init_source if spec else None) or "parent-data"
        pending: list[tuple[str, str]] = []
        for ep in req.endpoints or []:
            provision.validate_endpoint(
                rt, p, "(new)", type_=ep.type, min_cu=ep.autoscaling_limit_min_cu,
                max_cu=ep.autoscaling_limit_max_cu, suspend=ep.suspend_timeout_seconds,
                pending=pending)
            pending.append(("(new)", ep.type))
        if ts or lsn:
            provision.check_point(rt, p, parent.id, lsn=lsn, timestamp=ts)
        b = provision.new_branch(
            rt, p, name=spec.name if spec else None, parent=parent, parent_lsn=lsn,
            parent_timestamp=ts, init_source=init,
            expires_at=_expires(spec.expires_at) if spec else None,
            protected=bool(spec.protected) if spec else False,
        )
        if not lsn and init != "schema-only":
            b.parent_lsn = parent.head_lsn
        b.annotations = dict(req.annotation_value or {})
        steps = [provision.branch_create_step(
            rt, p, b, provision.branch_source(parent, lsn, ts, init == "schema-only"))]
        eps = []
        for ep in req.endpoints or []:
            e = provision.new_endpoint(
                rt, p, b, type_=ep.type, min_cu=ep.autoscaling_limit_min_cu,
                max_cu=ep.autoscaling_limit_max_cu, suspend=ep.suspend_timeout_seconds,
                settings=ep.settings, provisioner=ep.provisioner)
            eps.append(e)
            steps.append(provision.endpoint_start_step(rt, e, register=True))
        roles, dbs = rt.store.roles_of(b.id), rt.store.databases_of(b.id)
        out: Json = {
            "branch": render.branch(b, None),
            "endpoints": [render.endpoint(e) for e in eps],
            "operations": render.operations(steps),
            "roles": [render.role(r) for r in roles],
            "databases": [render.database(d) for d in dbs],
        }
        rw = next((e for e in eps if e.type == "read_write"), eps[0] if eps else None)
        if rw is not None and len(roles) == 1 and len(dbs) == 1:
            out["connection_uris"] = [
                render.connection_details(roles[0], dbs[0], rw, rt.settings.endpoint_port)]
    rt.submit(p.id, steps)
    return out


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return max(int(text.removeprefix("offset:")), 0)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("invalid cursor") from exc


@router.get("/projects/{project_id}/branches")
def list_branches(
    project_id: str, rt: RuntimeDep, caller: CallerDep, search: str | None = None,
    sort_by: Annotated[str, Query(pattern="^(name|created_at|updated_at)$")] = "updated_at",
    sort_order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    cursor: str | None = None, limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
    include_deleted: bool = False,
) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        items = rt.store.branches_of(p.id)
        if search:
            items = [b for b in items if search.lower() in b.name.lower() or search in b.id]
        items.sort(key=lambda b: (getattr(b, sort_by), b.id), reverse=sort_order == "desc")
        start = _offset(cursor)
        end = start + limit if limit else len(items)
        page = items[start:end]
        usage = rt.backend.usage(p.id)
        pagination: Json = {"sort_by": sort_by, "sort_order": sort_order.upper()}
        if end < len(items):
            pagination["next"] = _cursor(end)
        return {
            "branches": [render.branch(b, usage.get(b.id)) for b in page],
            "annotations": {b.id: annotation(b) for b in page if b.annotations},
            "pagination": pagination,
        }


@router.get("/projects/{project_id}/branches/count")
def count_branches(project_id: str, rt: RuntimeDep, caller: CallerDep,
                   search: str | None = None) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        items = rt.store.branches_of(p.id)
        if search:
            items = [b for b in items if search.lower() in b.name.lower() or search in b.id]
        return {"count": len(items)}


@router.get("/projects/{project_id}/branches/{branch_id}")
def get_branch(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        return {"branch": branch_body(rt, b), "annotation": annotation(b)}


@router.patch("/projects/{project_id}/branches/{branch_id}")
def update_branch(project_id: str, branch_id: str, body: BranchUpdateRequest, rt: RuntimeDep,
                  caller: CallerDep) -> Json:
    req = body.branch
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        if req.name is not None:
            b.name = req.name
        if req.protected is not None:
            b.protected = req.protected
        if "expires_at" in req.model_fields_set:
            b.expires_at = _expires(req.expires_at)
        b.updated_at = provision.now(rt)
        out = {"branch": branch_body(rt, b), "operations": []}
    rt.changed()
    return out


@router.delete("/projects/{project_id}/branches/{branch_id}", response_model=None)
def delete_branch(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep,
                  hard_delete: bool = False) -> Json | Response:
    """204 when already gone (spec). Default branch, children, protected: 409 conflicts."""
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.world.branches.get(branch_id)
        if b is None or b.project_id != p.id:
            return Response(status_code=204)
        if b.default:
            raise conflict("cannot delete the project's default branch")
        if children_of(rt, b):
            raise conflict("cannot delete a branch that has child branches")
        if b.protected:
            raise conflict("cannot delete a protected branch")
        rt.runner.ensure_unlocked(p.id)
        body = branch_body(rt, b)
        steps = delete_branch_steps(rt, b)
        out = {"branch": body, "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


@router.post("/projects/{project_id}/branches/{branch_id}/restore")
def restore_branch(project_id: str, branch_id: str, body: BranchRestoreRequest,
                   rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        src = rt.store.branch(p.id, body.source_branch_id)
        if body.source_lsn and body.source_timestamp:
            raise bad_request("source_lsn and source_timestamp are mutually exclusive")
        self_restore = src.id == b.id
        if self_restore and not (body.source_lsn or body.source_timestamp):
            raise bad_request("restoring a branch from itself needs source_lsn or "
                              "source_timestamp")
        kids = children_of(rt, b)
        if (kids or self_restore) and not body.preserve_under_name:
            raise bad_request("preserve_under_name is required when the branch has children "
                              "or is restored from itself")
        rt.runner.ensure_unlocked(p.id)
        ts = _expires(body.source_timestamp)
        if ts or body.source_lsn:
            provision.check_point(rt, p, src.id, lsn=body.source_lsn, timestamp=ts)
        preserved = None
        if body.preserve_under_name:
            limits.check_count("branches per project", len(rt.store.branches_of(p.id)),
                               provision.org_limits(rt, p).max_branches)
            preserved = provision.new_branch(rt, p, name=body.preserve_under_name,
                                             parent=None)
            preserved.parent_id, preserved.parent_lsn = b.parent_id, b.parent_lsn
            provision.copy_roles_and_databases(rt, b.id, preserved)
            preserved.head_lsn = b.head_lsn
            for c in kids:
                c.parent_id = preserved.id
        source = provision.branch_source(src, body.source_lsn, ts)
        op = rt.runner.new_op(p.id, "create_timeline", branch_id=b.id)
        b.current_state, b.pending_state = "resetting", "ready"
        pid, bid, keep = p.id, b.id, preserved.id if preserved else None
        reset_at = provision.now(rt)

        def done() -> None:
            provision.mark_branch_ready(rt, b, None)
            if preserved is not None:
                provision.mark_branch_ready(rt, preserved, None)
            b.last_reset_at = reset_at
            if src.id == b.parent_id:
                b.parent_lsn = src.head_lsn

        steps = [Step(op=op, work=lambda: rt.backend.restore_branch(
            pid, bid, source=source, preserve_as_branch_id=keep), done=done)]
        for e in rt.store.endpoints_of(p.id, b.id):
            rop = rt.runner.new_op(p.id, "start_compute", branch_id=b.id, endpoint_id=e.id)
            steps.append(Step(op=rop, work=_restarter(rt, pid, e.id)))
        out = {"branch": render.branch(b, None),
               "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


def _restarter(rt: Runtime, pid: str, eid: str) -> Any:
    return lambda: rt.backend.restart_endpoint(pid, eid)


@router.post("/projects/{project_id}/branches/{branch_id}/set_as_default")
def set_as_default(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        ts = provision.now(rt)
        for other in rt.store.branches_of(p.id):
            if other.default and other.id != b.id:
                other.default, other.updated_at = False, ts
        b.default, b.updated_at = True, ts
        if b.expires_at:
            b.expires_at = None
        out = {"branch": branch_body(rt, b), "operations": []}
    rt.changed()
    return out


@router.get("/projects/{project_id}/branches/{branch_id}/endpoints")
def branch_endpoints(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    from neon_emulator.routes.endpoints import endpoint_body

    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        return {"endpoints": [endpoint_body(rt, e) for e in rt.store.endpoints_of(p.id, b.id)]}


@router.get("/projects/{project_id}/branches/{branch_id}/schema")
def branch_schema(project_id: str, branch_id: str, db_name: str, rt: RuntimeDep,
                  caller: CallerDep, lsn: str | None = None, timestamp: str | None = None,
                  format: str = "sql") -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        rt.store.database(b.id, db_name)
    if format not in ("sql",):
        raise ApiError(400, "only format=sql is supported by the emulator", code="BAD_REQUEST")
    return {"sql": rt.backend.branch_schema(p.id, b.id, db_name)}


@router.get("/projects/{project_id}/branches/{branch_id}/compare_schema")
def compare_schema(project_id: str, branch_id: str, db_name: str, rt: RuntimeDep,
                   caller: CallerDep, base_branch_id: str | None = None,
                   lsn: str | None = None, timestamp: str | None = None,
                   base_lsn: str | None = None, base_timestamp: str | None = None) -> Json:
    """Unified diff (difflib) of the base's and this branch's schema dumps."""
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        base_id = base_branch_id or b.parent_id or rt.store.default_branch(p.id).id
        base = rt.store.branch(p.id, base_id)
        rt.store.database(b.id, db_name)
    old = rt.backend.branch_schema(p.id, base.id, db_name)
    new = rt.backend.branch_schema(p.id, b.id, db_name)
    diff = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                fromfile=f"{base.name}/{db_name}", tofile=f"{b.name}/{db_name}")
    return {"diff": "".join(diff)}
