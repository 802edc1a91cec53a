"""Operations (spec tag Operation): list with Pagination{cursor}, get one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.routes import _render as render

router = APIRouter(tags=["Operation"])


@router.get("/projects/{project_id}/operations")
def list_operations(
    project_id: str, rt: RuntimeDep, caller: CallerDep, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    """Newest first, as Neon lists them; the cursor is the last operation id of a page."""
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        ops = sorted((o for o in rt.store.world.operations.values() if o.project_id == p.id),
                     key=lambda o: o.seq, reverse=True)
        if cursor:
            pos = next((i for i, o in enumerate(ops) if o.id == cursor), None)
            ops = ops[pos + 1:] if pos is not None else []
        page = ops[:limit]
        body: dict[str, Any] = {"operations": [render.operation(o) for o in page]}
    if page:
        body["pagination"] = {"cursor": page[-1].id}
    return body


@router.get("/projects/{project_id}/operations/{operation_id}")
def get_operation(
    project_id: str, operation_id: str, rt: RuntimeDep, caller: CallerDep
) -> dict[str, Any]:
    with rt.store.lock:
        p = rt.store.project(caller, project_id)
        return {"operation": render.operation(rt.store.operation(p.id, operation_id))}
