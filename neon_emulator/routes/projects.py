"""Projects (spec tag Project): create/list/get/update, soft delete + recover, connection_uri."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from neon_emulator.compute.majors import NEON_DEFAULT
from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, limits, provision
from neon_emulator.engine.operations import Step
from neon_emulator.errors import ApiError, bad_request, not_found
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import ProjectCreateRequest, ProjectUpdateRequest
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import EndpointRecord, ProjectRecord
from neon_emulator.store.state import Caller

router = APIRouter(tags=["Project"])
Json = dict[str, Any]


def project_body(rt: Runtime, p: ProjectRecord) -> Json:
    usage = rt.backend.usage(p.id)
    org = rt.store.world.orgs.get(p.org_id)
    return render.project(p, usage, org, org.limits.max_branches if org else 10)


def _target_org(caller: Caller, org_id: str | None) -> str:
    if caller.project_id is not None:
        raise ApiError(403, "a project-scoped API key cannot create projects", code="FORBIDDEN")
    if caller.personal:
        if not org_id:
            raise bad_request("org_id is required when using a personal API key")
        if not caller.sees_org(org_id):
            raise not_found(f"organization {org_id}")
        return org_id
    own = caller.key.org_id or ""
    if org_id and org_id != own:
        raise not_found(f"organization {org_id}")
    return own


def _pg_version(rt: Runtime, asked: int | None) -> int:
    """The major the backend can run: the one asked for, or Neon's default (17) when it is
    installed, else the newest installed; an uninstalled major is a 400, never another."""
    available = rt.backend.available_pg_versions()
    if asked is None:
        return NEON_DEFAULT if NEON_DEFAULT in available or not available else max(available)
    if asked not in available:
        raise bad_request(
            f"pg_version {asked} is not available in this emulator; available: "
            f"{', '.join(map(str, sorted(available)))} (scripts/bootstrap.sh installs them)")
    return asked


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreateRequest, rt: RuntimeDep, caller: CallerDep) -> Json:
    req = body.project
    org_id = _target_org(caller, req.org_id)
    with rt.store.lock:
        w = rt.store.world
        lim = w.orgs[org_id].limits
        live = sum(1 for p in w.projects.values() if p.org_id == org_id and not p.deleted_at)
        limits.check_count("projects per organization", live, lim.max_projects)
        des = req.default_endpoint_settings.model_dump(exclude_none=True) if (
            req.default_endpoint_settings) else {}
        if req.autoscaling_limit_min_cu is not None:
            des.setdefault("autoscaling_limit_min_cu", req.autoscaling_limit_min_cu)
        if req.autoscaling_limit_max_cu is not None:
            des.setdefault("autoscaling_limit_max_cu", req.autoscaling_limit_max_cu)
        lo = float(des.setdefault("autoscaling_limit_min_cu", 0.25))
        hi = float(des.setdefault("autoscaling_limit_max_cu", max(lo, 0.25)))
        limits.check_cu(lim, lo, hi)
        suspend = int(des.get("suspend_timeout_seconds", 0))
        limits.resolve_suspend(lim, suspend)
        retention = req.history_retention_seconds
        if retention is None:
            retention = min(86_400, lim.max_history_retention_seconds)
        limits.check_retention(lim, retention)
        pg_version = _pg_version(rt, req.pg_version)
        ts = provision.now(rt)
        pid = ids.project_id()
        p = ProjectRecord(
            id=pid, org_id=org_id, name=req.name or pid,
            region_id=req.region_id or rt.settings.region_id, pg_version=pg_version,
            provisioner=req.provisioner or "k8s-neonvm",
            store_passwords=True if req.store_passwords is None else req.store_passwords,
            history_retention_seconds=retention, default_endpoint_settings=des,
            settings=req.settings.model_dump(exclude_none=True) if req.settings else {},
            created_at=ts, updated_at=ts,
        )
        w.projects[pid] = p
        seed = req.branch
        b = provision.new_branch(rt, p, name=(seed.name if seed else None) or "main",
                                 parent=None, default=True)
        role = provision.add_role(rt, pid, b.id, (seed.role_name if seed else None)
                                  or "neondb_owner")
        db = provision.add_database(rt, pid, b.id, (seed.database_name if seed else None)
                                    or "neondb", role.name)
        e = provision.new_endpoint(rt, p, b, type_="read_write", min_cu=None, max_cu=None,
                                   suspend=None)
        steps = [
            provision.branch_create_step(rt, p, b, provision.branch_source(None, None, None),
                                         action="create_timeline"),
            provision.endpoint_start_step(rt, e, register=True),
        ]
        out: Json = {
            "project": project_body(rt, p),
            "connection_uris": [render.connection_details(role, db, e, rt.settings.endpoint_port)],
            "roles": [render.role(role, with_password=True)],
            "databases": [render.database(db)],
            "operations": render.operations(steps),
            "branch": render.branch(b, None),
            "endpoints": [render.endpoint(e)],
        }
    rt.submit(pid, steps)
    return out


def _visible_projects(rt: Runtime, caller: Caller, org_id: str | None,
                      deleted: bool) -> list[ProjectRecord]:
    if org_id is not None and not caller.sees_org(org_id):
        raise not_found(f"organization {org_id}")
    out = []
    for p in rt.store.world.projects.values():
        if not caller.sees_project(p) or (p.deleted_at is not None) != deleted:
            continue
        if org_id is not None and p.org_id != org_id:
            continue
        out.append(p)
    return out


@router.get("/projects")
def list_projects(
    rt: RuntimeDep, caller: CallerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=400)] = 10,
    search: str | None = None,
    org_id: str | None = None,
    recoverable: bool = False,
    timeout: Annotated[int | None, Query(ge=100, le=30000)] = None,
) -> Json:
    with rt.store.lock:
        items = _visible_projects(rt, caller, org_id, recoverable)
        if search:
            needle = search.lower()
            items = [p for p in items if needle in p.name.lower() or needle in p.id]
        if cursor:
            pos = next((i for i, p in enumerate(items) if p.id == cursor), None)
            items = items[pos + 1:] if pos is not None else []
        page = items[:limit]
        orgs = rt.store.world.orgs
        body: Json = {
            "projects": [
                render.project_list_item(p, rt.backend.usage(p.id), orgs.get(p.org_id))
                for p in page
            ],
            "applications": {},
            "integrations": {p.id: [p.integration] for p in page if p.integration},
        }
    if page:
        body["pagination"] = {"cursor": page[-1].id}
    return body


@router.get("/projects/{project_id}")
def get_project(project_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        return {"project": project_body(rt, rt.store.project(caller, project_id))}


@router.patch("/projects/{project_id}")
def update_project(project_id: str, body: ProjectUpdateRequest, rt: RuntimeDep,
                   caller: CallerDep) -> Json:
    req = body.project
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        lim = provision.org_limits(rt, p)
        needs_op = req.settings is not None or req.default_endpoint_settings is not None
        if needs_op:
            rt.runner.ensure_unlocked(p.id)
        if req.history_retention_seconds is not None:
            limits.check_retention(lim, req.history_retention_seconds)
        des = dict(p.default_endpoint_settings)
        if req.default_endpoint_settings is not None:
            des.update(req.default_endpoint_settings.model_dump(exclude_none=True))
            limits.check_cu(lim, float(des.get("autoscaling_limit_min_cu", 0.25)),
                            float(des.get("autoscaling_limit_max_cu", 0.25)))
            limits.resolve_suspend(lim, int(des.get("suspend_timeout_seconds", 0)))
        if req.name is not None:
            p.name = req.name
        if req.history_retention_seconds is not None:
            p.history_retention_seconds = req.history_retention_seconds
        p.default_endpoint_settings = des
        if req.settings is not None:
            merged = dict(p.settings)
            merged.update(req.settings.model_dump(exclude_none=True))
            p.settings = merged
        p.updated_at = provision.now(rt)
        steps: list[Step] = []
        if needs_op:
            op = rt.runner.new_op(p.id, "apply_config")
            policy = provision.quota_policy(p)
            steps.append(Step(op=op, work=lambda: rt.backend.set_quota(p.id, policy)))
        out = {"project": project_body(rt, p),
               "operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out


@router.delete("/projects/{project_id}")
def delete_project(project_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    """Soft delete (CONTRACT.md section 1): recoverable for 7 days, computes suspended."""
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        rt.runner.ensure_unlocked(p.id)
        p.deleted_at = provision.now(rt)
        steps = []
        for e in rt.store.endpoints_of(p.id):
            op = rt.runner.new_op(p.id, "suspend_compute", branch_id=e.branch_id,
                                  endpoint_id=e.id)
            steps.append(Step(op=op, work=_suspender(rt, p.id, e.id)))
            e.current_state, e.pending_state = "idle", None
        body = project_body(rt, p)
    rt.submit(p.id, steps)
    return {"project": body}


def _suspender(rt: Runtime, project_id: str, endpoint_id: str) -> Any:
    return lambda: rt.backend.suspend_endpoint(project_id, endpoint_id)


@router.post("/projects/{project_id}/recover")
def recover_project(project_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id, deleted=True)
        p.deleted_at = None
        p.updated_at = provision.now(rt)
        out = {
            "project": project_body(rt, p),
            "branches": [render.branch(b, None) for b in rt.store.branches_of(p.id)],
        }
    rt.changed()
    return out


@router.get("/projects/{project_id}/connection_uri")
def connection_uri(
    project_id: str, rt: RuntimeDep, caller: CallerDep,
    database_name: str, role_name: str,
    branch_id: str | None = None, endpoint_id: str | None = None, pooled: bool = False,
) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id) if branch_id else rt.store.default_branch(p.id)
        e: EndpointRecord | None
        if endpoint_id:
            e = rt.store.endpoint(p.id, endpoint_id)
        else:
            e = next((x for x in rt.store.endpoints_of(p.id, b.id) if x.type == "read_write"),
                     None)
            if e is None:
                raise not_found(f"read-write endpoint of branch {b.id}")
        r = rt.store.role(b.id, role_name)
        d = rt.store.database(b.id, database_name)
        host = e.pooler_host if pooled else e.host
        uri = render.connection_uri(r.name, r.password, host, d.name, rt.settings.endpoint_port)
    return {"uri": uri}
