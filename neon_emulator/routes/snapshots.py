"""Snapshots (spec tag Snapshot) and finalize_restore.

Finalize follows Neon's documented behaviour: the restored branch takes over the target's
role (default flag, name, computes, so connection strings keep working) and the target is
renamed with an " (old)" suffix and loses default; the active branch id therefore changes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine import ids, limits, provision
from neon_emulator.engine.clock import iso, parse_ts
from neon_emulator.engine.operations import Step
from neon_emulator.errors import bad_request, conflict
from neon_emulator.routes import _render as render
from neon_emulator.routes._inputs import (
    FinalizeRestoreRequest,
    SnapshotRestoreRequest,
    SnapshotUpdateRequest,
)
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import BranchRecord, SnapshotRecord

router = APIRouter(tags=["Snapshot"])
Json = dict[str, Any]


def _ts(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return iso(parse_ts(value))
    except ValueError as exc:
        raise bad_request(f"{field} must be an RFC 3339 timestamp") from exc


@router.post("/projects/{project_id}/branches/{branch_id}/snapshot")
def create_snapshot(
    project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep,
    lsn: str | None = None, timestamp: str | None = None, name: str | None = None,
    expires_at: str | None = None,
) -> Json:
    if lsn and timestamp:
        raise bad_request("lsn and timestamp are mutually exclusive")
    ts, exp = _ts(timestamp, "timestamp"), _ts(expires_at, "expires_at")
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        rt.runner.ensure_unlocked(p.id)
        limits.check_count("snapshots per project", len(rt.store.snapshots_of(p.id)),
                           provision.org_limits(rt, p).max_snapshots)
        if ts or lsn:
            provision.check_point(rt, p, b.id, lsn=lsn, timestamp=ts)
        now = provision.now(rt)
        sid = ids.snapshot_id()
        snap = SnapshotRecord(id=sid, project_id=p.id, name=name or f"{b.name} {now}",
                              lsn=lsn, timestamp=ts or now, source_branch_id=b.id,
                              created_at=now, expires_at=exp)
        rt.store.world.snapshots[sid] = snap
        pid, bid = p.id, b.id
        result: dict[str, str | None] = {}

        def work() -> None:
            result["lsn"] = rt.backend.create_snapshot(
                pid, bid, sid, lsn=lsn, timestamp=parse_ts(ts) if ts else None)

        def done() -> None:
            if result.get("lsn"):
                snap.lsn = result["lsn"]

        def failed(_msg: str) -> None:
            rt.store.world.snapshots.pop(sid, None)

        step = Step(op=rt.runner.new_op(pid, "create_branch", branch_id=bid), work=work,
                    done=done, failed=failed)
        out = {"snapshot": render.snapshot(snap), "operations": [render.operation(step.op)]}
    rt.submit(pid, [step])
    return out


@router.get("/projects/{project_id}/snapshots")
def list_snapshots(project_id: str, rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        snaps = sorted(rt.store.snapshots_of(p.id), key=lambda s: s.created_at)
        return {"snapshots": [render.snapshot(s) for s in snaps]}


@router.patch("/projects/{project_id}/snapshots/{snapshot_id}")
def rename_snapshot(project_id: str, snapshot_id: str, body: SnapshotUpdateRequest,
                    rt: RuntimeDep, caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        s = rt.store.snapshot(p.id, snapshot_id)
        if body.snapshot.name:
            s.name = body.snapshot.name
        out = {"snapshot": render.snapshot(s)}
    rt.changed()
    return out


@router.delete("/projects/{project_id}/snapshots/{snapshot_id}", status_code=202)
def delete_snapshot(project_id: str, snapshot_id: str, rt: RuntimeDep,
                    caller: CallerDep) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        s = rt.store.snapshot(p.id, snapshot_id)
        rt.runner.ensure_unlocked(p.id)
        del rt.store.world.snapshots[s.id]
        pid, sid = p.id, s.id
        step = Step(op=rt.runner.new_op(pid, "delete_timeline"),
                    work=lambda: rt.backend.delete_snapshot(pid, sid))
        out = {"operations": [render.operation(step.op)]}
    rt.submit(pid, [step])
    return out


@router.post("/projects/{project_id}/snapshots/{snapshot_id}/restore")
def restore_snapshot(
    project_id: str, snapshot_id: str, rt: RuntimeDep, caller: CallerDep,
    body: Annotated[SnapshotRestoreRequest | None, Body()] = None,
    name: Annotated[str | None, Query(deprecated=True)] = None,
) -> Json:
    req = body or SnapshotRestoreRequest()
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        s = rt.store.snapshot(p.id, snapshot_id)
        rt.runner.ensure_unlocked(p.id)
        target_id = req.target_branch_id or s.source_branch_id
        target = rt.store.branch(p.id, target_id) if target_id else rt.store.default_branch(p.id)
        limits.check_count("branches per project", len(rt.store.branches_of(p.id)),
                           provision.org_limits(rt, p).max_branches)
        restored = provision.new_branch(
            rt, p, name=req.name or name or f"{target.name} (restored {s.name})", parent=None)
        provision.copy_roles_and_databases(rt, target.id, restored)
        restored.restored_from, restored.restore_status = s.id, "restored"
        restored.restore_target_id = target.id
        pid, sid, rid = p.id, s.id, restored.id
        steps = [Step(op=rt.runner.new_op(pid, "create_branch", branch_id=rid),
                      work=lambda: rt.backend.restore_snapshot(pid, sid, rid),
                      done=lambda: provision.mark_branch_ready(rt, restored, s.lsn))]
        endpoints = []
        if req.finalize_restore:
            steps += finalize_steps(rt, restored, target, None)
            endpoints = rt.store.endpoints_of(pid, rid)
        out = {"branch": render.branch(restored, None),
               "endpoints": [render.endpoint(e) for e in endpoints],
               "operations": [render.operation(x.op) for x in steps]}
    rt.submit(pid, steps)
    return out


def finalize_steps(rt: Runtime, restored: BranchRecord, target: BranchRecord,
                   new_name: str | None) -> list[Step]:
    """Swap roles: `restored` becomes the active branch, `target` becomes '<name> (old)'."""
    now = provision.now(rt)
    old_name = target.name
    restored.name = new_name or old_name
    restored.default, target.default = target.default, False
    restored.restore_status = "finalized"
    restored.restored_as = target.id
    restored.updated_at = target.updated_at = now
    target.name = f"{old_name} (old)"
    restored.expires_at = None
    steps: list[Step] = []
    for e in rt.store.endpoints_of(target.project_id, target.id):
        e.branch_id, e.updated_at = restored.id, now
        spec = provision.endpoint_spec(rt, e)
        pid, eid = e.project_id, e.id
        steps.append(Step(op=rt.runner.new_op(pid, "apply_config", branch_id=restored.id,
                                              endpoint_id=eid),
                          work=_mover(rt, pid, spec)))
    return steps


def _mover(rt: Runtime, pid: str, spec: Any) -> Any:
    def work() -> None:
        rt.backend.update_endpoint(pid, spec)
        rt.backend.restart_endpoint(pid, spec.endpoint_id)
    return work


@router.post("/projects/{project_id}/branches/{branch_id}/finalize_restore")
def finalize_restore(project_id: str, branch_id: str, rt: RuntimeDep, caller: CallerDep,
                     body: Annotated[FinalizeRestoreRequest | None, Body()] = None) -> Json:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        b = rt.store.branch(p.id, branch_id)
        if b.restore_status != "restored" or not b.restore_target_id:
            raise conflict("only a branch restored from a snapshot (not yet finalized) can be "
                           "finalized")
        target = rt.store.branch(p.id, b.restore_target_id)
        rt.runner.ensure_unlocked(p.id)
        steps = finalize_steps(rt, b, target, body.name if body else None)
        out = {"operations": render.operations(steps)}
    rt.submit(p.id, steps)
    return out
