"""Building blocks shared by routes: new branches and endpoints with their operations.

Records are created at once (states `init`), the backend work is queued as operation steps,
and each step's success moves the state as Neon does (branch init -> ready, endpoint
init -> active).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from neon_emulator.compute.backend import (
    BranchSource,
    EndpointAddress,
    EndpointSpec,
    QuotaPolicy,
    RoleSpec,
)
from neon_emulator.engine import ids, limits
from neon_emulator.engine.clock import iso, parse_ts
from neon_emulator.engine.operations import Step
from neon_emulator.errors import ApiError, limit_exceeded
from neon_emulator.runtime import Runtime
from neon_emulator.settings import OrgLimits
from neon_emulator.store.records import (
    BranchRecord,
    DatabaseRecord,
    EndpointRecord,
    ProjectRecord,
    RoleRecord,
)


def org_limits(rt: Runtime, project: ProjectRecord) -> OrgLimits:
    org = rt.store.world.orgs.get(project.org_id)
    return org.limits if org is not None else OrgLimits()


def now(rt: Runtime) -> str:
    return iso(rt.clock.now())


def roles_spec(rt: Runtime, branch_id: str) -> list[RoleSpec]:
    return [RoleSpec(r.name, r.password) for r in rt.store.roles_of(branch_id) if not r.no_login]


def endpoint_spec(rt: Runtime, e: EndpointRecord) -> EndpointSpec:
    return EndpointSpec(
        endpoint_id=e.id,
        branch_id=e.branch_id,
        address=EndpointAddress(e.host, e.pooler_host, rt.settings.endpoint_port),
        min_cu=e.min_cu,
        max_cu=e.max_cu,
        suspend_timeout_seconds=300 if e.suspend_timeout_seconds == 0 else
        e.suspend_timeout_seconds,
        read_only=e.type == "read_only",
        roles=roles_spec(rt, e.branch_id),
    )


def quota_policy(project: ProjectRecord) -> QuotaPolicy:
    q: dict[str, Any] = project.settings.get("quota") or {}
    return QuotaPolicy(**{k: int(q.get(k) or 0) for k in QuotaPolicy.__dataclass_fields__})


# -- branches ---------------------------------------------------------------------------
def new_branch(
    rt: Runtime, project: ProjectRecord, *, name: str | None, parent: BranchRecord | None,
    parent_lsn: str | None = None, parent_timestamp: str | None = None,
    init_source: str = "parent-data", expires_at: str | None = None, protected: bool = False,
    default: bool = False,
) -> BranchRecord:
    ts = now(rt)
    bid = ids.branch_id()
    rec = BranchRecord(
        id=bid, project_id=project.id, name=name or bid, state_changed_at=ts,
        parent_id=parent.id if parent and init_source != "schema-only" else None,
        parent_lsn=parent_lsn, parent_timestamp=parent_timestamp,
        default=default, protected=protected, created_at=ts, updated_at=ts,
        expires_at=expires_at, init_source=init_source,
    )
    rt.store.world.branches[bid] = rec
    if parent is not None:
        copy_roles_and_databases(rt, parent.id, rec)
    return rec


def copy_roles_and_databases(rt: Runtime, source_id: str, target: BranchRecord) -> None:
    w = rt.store.world
    ts = now(rt)
    for r in rt.store.roles_of(source_id):
        w.roles[f"{target.id}/{r.name}"] = r.model_copy(
            update={"branch_id": target.id, "project_id": target.project_id,
                    "created_at": ts, "updated_at": ts})
    for d in rt.store.databases_of(source_id):
        w.databases[f"{target.id}/{d.name}"] = d.model_copy(
            update={"id": rt.store.next_db_id(), "branch_id": target.id,
                    "project_id": target.project_id, "created_at": ts, "updated_at": ts})


def add_role(rt: Runtime, project_id: str, branch_id: str, name: str,
             no_login: bool = False) -> RoleRecord:
    ts = now(rt)
    rec = RoleRecord(project_id=project_id, branch_id=branch_id, name=name,
                     password=ids.password(), no_login=no_login, created_at=ts, updated_at=ts)
    rt.store.world.roles[f"{branch_id}/{name}"] = rec
    return rec


def add_database(rt: Runtime, project_id: str, branch_id: str, name: str,
                 owner: str) -> DatabaseRecord:
    ts = now(rt)
    rec = DatabaseRecord(id=rt.store.next_db_id(), project_id=project_id, branch_id=branch_id,
                         name=name, owner_name=owner, created_at=ts, updated_at=ts)
    rt.store.world.databases[f"{branch_id}/{name}"] = rec
    return rec


def mark_branch_ready(rt: Runtime, b: BranchRecord, lsn: str | None) -> None:
    b.current_state = "ready"
    b.pending_state = None
    b.state_changed_at = b.updated_at = now(rt)
    if lsn:
        b.head_lsn = lsn


def branch_create_step(
    rt: Runtime, project: ProjectRecord, b: BranchRecord, source: BranchSource,
    action: str = "create_branch",
) -> Step:
    op = rt.runner.new_op(project.id, action, branch_id=b.id)
    roles = roles_spec(rt, b.id)
    dbs = [(d.name, d.owner_name) for d in rt.store.databases_of(b.id)]
    pg_version = project.pg_version
    result: dict[str, str | None] = {}
    policy = quota_policy(project)
    first = source.branch_id is None

    def work() -> None:
        result["lsn"] = rt.backend.create_branch(
            project.id, b.id, source=source, roles=roles, databases=dbs, pg_version=pg_version)
        if first:
            rt.backend.set_quota(project.id, policy)

    return Step(op=op, work=work, done=lambda: mark_branch_ready(rt, b, result.get("lsn")))


def branch_source(parent: BranchRecord | None, lsn: str | None, ts: str | None,
                  schema_only: bool = False) -> BranchSource:
    return BranchSource(
        branch_id=parent.id if parent else None, lsn=lsn,
        timestamp=datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None,
        schema_only=schema_only,
    )


# -- endpoints ---------------------------------------------------------------------------
def validate_endpoint(
    rt: Runtime, project: ProjectRecord, branch_id: str, *, type_: str,
    min_cu: float | None, max_cu: float | None, suspend: int | None,
    pending: list[tuple[str, str]] | None = None,
) -> tuple[float, float, int]:
    """Check an endpoint against the org's limits before anything is recorded.

    `pending` holds (branch_id, type) of endpoints accepted earlier in the same request."""
    lim = org_limits(rt, project)
    des = project.default_endpoint_settings
    lo = float(min_cu if min_cu is not None else des.get("autoscaling_limit_min_cu", 0.25))
    hi = float(max_cu if max_cu is not None else des.get("autoscaling_limit_max_cu", max(lo, 0.25)))
    limits.check_cu(lim, lo, hi)
    raw_suspend = suspend if suspend is not None else int(des.get("suspend_timeout_seconds", 0))
    limits.resolve_suspend(lim, raw_suspend)
    existing: list[tuple[str, str]] = [
        (e.branch_id, e.type) for e in rt.store.endpoints_of(project.id)]
    existing += pending or []
    limits.check_count("active endpoints per project", len(existing), lim.max_active_endpoints)
    if type_ == "read_only":
        ro = sum(1 for _, t in existing if t == "read_only")
        limits.check_count("read-only endpoints per project", ro, lim.max_read_only_endpoints)
    elif (branch_id, "read_write") in existing:
        raise limit_exceeded(f"branch {branch_id} already has a read-write endpoint (limit 1)")
    return lo, hi, raw_suspend


def new_endpoint(
    rt: Runtime, project: ProjectRecord, branch: BranchRecord, *, type_: str,
    min_cu: float | None, max_cu: float | None, suspend: int | None,
    settings: dict[str, Any] | None = None, name: str | None = None, disabled: bool = False,
    provisioner: str | None = None, passwordless_access: bool = False,
) -> EndpointRecord:
    """Validate against the org's limits, then record the endpoint (state init)."""
    lo, hi, raw_suspend = validate_endpoint(rt, project, branch.id, type_=type_, min_cu=min_cu,
                                            max_cu=max_cu, suspend=suspend)
    des = project.default_endpoint_settings
    host, pooler = rt.store.allocate_address()
    ts = now(rt)
    rec = EndpointRecord(
        id=ids.endpoint_id(), project_id=project.id, branch_id=branch.id, type=type_,
        region_id=project.region_id, min_cu=lo, max_cu=hi, suspend_timeout_seconds=raw_suspend,
        settings=settings if settings is not None else {
            "pg_settings": dict(des.get("pg_settings") or {})},
        disabled=disabled, name=name, provisioner=provisioner or project.provisioner,
        passwordless_access=passwordless_access,
        host=host, pooler_host=pooler, created_at=ts, updated_at=ts,
    )
    rt.store.world.endpoints[rec.id] = rec
    return rec


def ensure_can_start(rt: Runtime, project_id: str) -> None:
    reason = rt.backend.quota_exceeded(project_id)
    if reason is not None:
        raise ApiError(422, f"project quota exceeded ({reason}): computes cannot start",
                       code="QUOTA_EXCEEDED")


def set_endpoint_state(rt: Runtime, e: EndpointRecord, state: str) -> None:
    ts = now(rt)
    e.current_state = state
    e.pending_state = None
    e.updated_at = ts
    if state == "active":
        e.started_at = e.last_active = ts
        project = rt.store.world.projects.get(e.project_id)
        if project is not None:
            project.compute_last_active_at = ts
    else:
        e.suspended_at = ts


def endpoint_start_step(rt: Runtime, e: EndpointRecord, *, register: bool) -> Step:
    op = rt.runner.new_op(e.project_id, "start_compute", branch_id=e.branch_id,
                          endpoint_id=e.id)
    spec = endpoint_spec(rt, e)
    start = not e.disabled

    def work() -> None:
        if register:
            rt.backend.register_endpoint(e.project_id, spec)
        if start:
            rt.backend.start_endpoint(e.project_id, e.id)

    def failed(_msg: str) -> None:
        e.current_state = "idle"
        e.pending_state = None

    return Step(op=op, work=work,
                done=lambda: set_endpoint_state(rt, e, "active" if start else "idle"),
                failed=failed)


def check_point(rt: Runtime, project: ProjectRecord, branch_id: str, *, lsn: str | None,
                timestamp: str | None) -> None:
    """A point in a branch's history is usable only inside the project's history retention
    window (Neon refuses older points) and where the backend really has the history."""
    point = parse_ts(timestamp) if timestamp else None
    if point is not None:
        oldest = rt.clock.now() - timedelta(seconds=project.history_retention_seconds)
        if point < oldest:
            raise ApiError(
                422,
                f"timestamp {timestamp} is outside the project's history retention window "
                f"({project.history_retention_seconds} s): use a point after {iso(oldest)}",
                code="HISTORY_RETENTION_EXCEEDED",
            )
    rt.backend.check_point_in_window(project.id, branch_id, lsn=lsn, timestamp=point)
