"""Consumption v2 (spec tag Consumption), projects and branches, built from backend.usage().

The backend reports counters since the start of the billing period; the emulator puts them in
the timeframe that contains "now" (or the last requested one) and zeros elsewhere, so sums
over a period equal the counters shown in project/branch bodies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from neon_emulator.compute.backend import BranchUsage
from neon_emulator.deps import CallerDep, RuntimeDep
from neon_emulator.engine.clock import iso, parse_ts
from neon_emulator.errors import ApiError, bad_request, not_found
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import ProjectRecord

router = APIRouter(tags=["Consumption"])
Json = dict[str, Any]
PROJECT_METRICS = {
    "compute_unit_seconds", "root_branch_bytes_month", "child_branch_bytes_month",
    "instant_restore_bytes_month", "public_network_transfer_bytes",
    "private_network_transfer_bytes", "extra_branches_month", "snapshot_storage_bytes_month",
}
BRANCH_METRICS = PROJECT_METRICS - {"extra_branches_month", "snapshot_storage_bytes_month"}
STEP = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "monthly": timedelta(days=31)}
WINDOW = {"hourly": timedelta(hours=168), "daily": timedelta(days=60),
          "monthly": timedelta(days=366)}
PERIOD_ID = "00000000-0000-4000-8000-000000000001"
# CONTRACT.md section 6: v2 serves Launch, Scale, Agent, Business and Enterprise plans;
# any other plan (free_v2, free_v3, legacy) gets 403
ELIGIBLE_PLANS = ("launch", "scale", "agent", "business", "enterprise")


def _check_plan(plan: str) -> None:
    if plan.split("_v")[0] not in ELIGIBLE_PLANS:
        raise ApiError(403, f"consumption history is not available on the {plan} plan",
                       code="PLAN_NOT_ELIGIBLE")


def _metrics(raw: list[str], allowed: set[str]) -> list[str]:
    names = [m.strip() for item in raw for m in item.split(",") if m.strip()]
    bad = [m for m in names if m not in allowed]
    if not names or bad:
        raise bad_request(f"metrics must be a non-empty list from {sorted(allowed)}")
    return list(dict.fromkeys(names))


def _ids(raw: list[str] | None) -> list[str]:
    return [x.strip() for item in raw or [] for x in item.split(",") if x.strip()]


def _floor(dt: datetime, granularity: str) -> datetime:
    dt = dt.replace(minute=0, second=0, microsecond=0)
    if granularity != "hourly":
        dt = dt.replace(hour=0)
    if granularity == "monthly":
        dt = dt.replace(day=1)
    return dt


def _frames(rt: Runtime, start: str, end: str, granularity: str) -> list[tuple[datetime,
                                                                                datetime]]:
    try:
        lo, hi = _floor(parse_ts(start), granularity), parse_ts(end)
    except ValueError as exc:
        raise bad_request("from and to must be RFC 3339 timestamps") from exc
    if hi <= lo:
        raise bad_request("to must be after from")
    if lo < rt.clock.now() - WINDOW[granularity]:
        raise ApiError(406, f"from is outside the {granularity} window", code="NOT_ACCEPTABLE")
    out: list[tuple[datetime, datetime]] = []
    cur = lo
    while cur < hi and len(out) < 2000:
        nxt = _floor(cur + STEP[granularity] + timedelta(hours=1), granularity) if (
            granularity == "monthly") else cur + STEP[granularity]
        out.append((cur, min(nxt, hi)))
        cur = nxt
    return out


def _checked(
    rt: Runtime, granularity: str, metrics: list[str], allowed: set[str], start: str, end: str
) -> tuple[list[str], list[tuple[datetime, datetime]]]:
    """Both routes' query checks, in one order: granularity, metrics, then the time frames."""
    if granularity not in STEP:
        raise bad_request("granularity must be hourly, daily or monthly")
    return _metrics(metrics, allowed), _frames(rt, start, end, granularity)


def _values(u: BranchUsage, root: bool) -> dict[str, int]:
    return {
        "compute_unit_seconds": u.compute_time_seconds,
        "root_branch_bytes_month": u.logical_size_bytes if root else 0,
        "child_branch_bytes_month": 0 if root else u.logical_size_bytes,
        "public_network_transfer_bytes": u.data_transfer_bytes,
    }


def _periods(rt: Runtime, frames: list[tuple[datetime, datetime]], metrics: list[str],
             values: dict[str, int], plan: str) -> list[Json]:
    now = rt.clock.now()
    hot = next((i for i, (a, b) in enumerate(frames) if a <= now < b), len(frames) - 1)
    consumption = [{
        "timeframe_start": iso(a), "timeframe_end": iso(b),
        "metrics": [{"metric_name": m, "value": values.get(m, 0) if i == hot else 0}
                    for m in metrics],
    } for i, (a, b) in enumerate(frames)]
    return [{"period_id": PERIOD_ID, "period_plan": plan, "period_start": iso(frames[0][0]),
             "consumption": consumption}]


def _org_projects(rt: Runtime, caller: Any, org_id: str, wanted: list[str]) -> list[
        ProjectRecord]:
    if not caller.sees_org(org_id):
        raise not_found(f"organization {org_id}")
    _check_plan(rt.store.world.orgs[org_id].plan)
    items = [p for p in rt.store.world.projects.values()
             if p.org_id == org_id and caller.sees_project(p) and not p.deleted_at]
    if wanted:
        items = [p for p in items if p.id in wanted]
    return list(reversed(items))  # newest-created first


def _page(items: list[ProjectRecord], cursor: str | None, limit: int) -> list[ProjectRecord]:
    if cursor:
        pos = next((i for i, p in enumerate(items) if p.id == cursor), None)
        items = items[pos + 1:] if pos is not None else []
    return items[:limit]


@router.get("/consumption_history/v2/projects")
def consumption_projects(
    rt: RuntimeDep, caller: CallerDep, org_id: str, granularity: str,
    from_: Annotated[str, Query(alias="from")], to: str, metrics: Annotated[list[str], Query()],
    project_ids: Annotated[list[str] | None, Query()] = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Json:
    names, frames = _checked(rt, granularity, metrics, PROJECT_METRICS, from_, to)
    with rt.store.lock:
        page = _page(_org_projects(rt, caller, org_id, _ids(project_ids)), cursor, limit)
        plan = rt.store.world.orgs[org_id].plan
        out = []
        for p in page:
            usage = rt.backend.usage(p.id)
            values: dict[str, int] = {}
            for bid, u in usage.items():
                b = rt.store.world.branches.get(bid)
                root = b is None or b.parent_id is None
                for k, v in _values(u, root).items():
                    values[k] = values.get(k, 0) + v
            values["extra_branches_month"] = 0
            out.append({"project_id": p.id, "periods": _periods(rt, frames, names, values, plan)})
    body: Json = {"projects": out}
    if page:
        body["pagination"] = {"cursor": page[-1].id}
    return body


@router.get("/consumption_history/v2/branches")
def consumption_branches(
    rt: RuntimeDep, caller: CallerDep, org_id: str, granularity: str,
    from_: Annotated[str, Query(alias="from")], to: str, metrics: Annotated[list[str], Query()],
    project_ids: Annotated[list[str], Query()],
    branch_ids: Annotated[list[str] | None, Query()] = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Json:
    names, frames = _checked(rt, granularity, metrics, BRANCH_METRICS, from_, to)
    wanted_projects = _ids(project_ids)
    if not wanted_projects:
        raise bad_request("project_ids is required")
    wanted_branches = set(_ids(branch_ids))
    with rt.store.lock:
        projects = _org_projects(rt, caller, org_id, wanted_projects)
        plan = rt.store.world.orgs[org_id].plan
        rows: list[tuple[str, str, BranchUsage, bool]] = []
        for p in projects:
            usage = rt.backend.usage(p.id)
            for b in rt.store.branches_of(p.id):
                if wanted_branches and b.id not in wanted_branches:
                    continue
                rows.append((p.id, b.id, usage.get(b.id, BranchUsage()), b.parent_id is None))
        if cursor:
            pos = next((i for i, r in enumerate(rows) if r[1] == cursor), None)
            rows = rows[pos + 1:] if pos is not None else []
        rows = rows[:limit]
        out = [{"project_id": pid, "branch_id": bid,
                "periods": _periods(rt, frames, names, _values(u, root), plan)}
               for pid, bid, u, root in rows]
    body: Json = {"branches": out}
    if rows:
        body["pagination"] = {"cursor": rows[-1][1]}
    return body
