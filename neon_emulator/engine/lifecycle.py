"""Deleting branches and endpoints: records go at once, backend cleanup runs as operations.

Shared by the routes and the expiry job (branches with `expires_at`).
"""

from __future__ import annotations

from neon_emulator.engine.operations import Step
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import BranchRecord, EndpointRecord


def delete_endpoint_steps(rt: Runtime, e: EndpointRecord) -> list[Step]:
    rt.store.world.endpoints.pop(e.id, None)
    pid, eid = e.project_id, e.id
    suspend = rt.runner.new_op(pid, "suspend_compute", branch_id=e.branch_id, endpoint_id=eid)
    return [Step(op=suspend, work=lambda: rt.backend.delete_endpoint(pid, eid))]


def delete_branch_steps(rt: Runtime, b: BranchRecord) -> list[Step]:
    w = rt.store.world
    steps: list[Step] = []
    for e in rt.store.endpoints_of(b.project_id, b.id):
        steps += delete_endpoint_steps(rt, e)
    for key in [k for k, r in w.roles.items() if r.branch_id == b.id]:
        del w.roles[key]
    for key in [k for k, d in w.databases.items() if d.branch_id == b.id]:
        del w.databases[key]
    w.neon_auth.pop(b.id, None)
    for key in [k for k, d in w.data_api.items() if d.branch_id == b.id]:
        del w.data_api[key]
    w.branches.pop(b.id, None)
    pid, bid = b.project_id, b.id
    op = rt.runner.new_op(pid, "delete_timeline", branch_id=bid)
    steps.append(Step(op=op, work=lambda: rt.backend.delete_branch(pid, bid)))
    return steps


def children_of(rt: Runtime, b: BranchRecord) -> list[BranchRecord]:
    return [c for c in rt.store.branches_of(b.project_id) if c.parent_id == b.id]
