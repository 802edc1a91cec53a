"""Moving projects between organizations (org transfer and transfer requests).

Order of checks follows what a client must handle: 404 for unknown projects, 422 with
`{projects:[{id, integration}]}` for projects with an integration, 406 with
`{limits:[{name, expected, actual}]}` when the destination cannot hold them, 423 while a
project has running operations. Project-scoped keys of the old org stop working (they are
tied to their org), as Neon documents.
"""

from __future__ import annotations

from neon_emulator.engine import limits
from neon_emulator.errors import ApiError, not_found
from neon_emulator.runtime import Runtime
from neon_emulator.store.records import ProjectRecord


def check_and_move(rt: Runtime, source_org_id: str, dest_org_id: str,
                   project_ids: list[str]) -> None:
    """Call with the store lock held."""
    w = rt.store.world
    dest = w.orgs.get(dest_org_id)
    if dest is None:
        raise not_found(f"organization {dest_org_id}")
    projects: list[ProjectRecord] = []
    for pid in dict.fromkeys(project_ids):
        p = w.projects.get(pid)
        if p is None or p.org_id != source_org_id or p.deleted_at:
            raise not_found(f"project {pid} in organization {source_org_id}")
        projects.append(p)
    blocked = [{"id": p.id, "integration": p.integration} for p in projects if p.integration]
    if blocked:
        raise ApiError(422, "projects with integrations cannot be transferred",
                       body={"projects": blocked})
    if dest_org_id == source_org_id:
        return
    violations: list[dict[str, str]] = []
    live = sum(1 for p in w.projects.values() if p.org_id == dest_org_id and not p.deleted_at)
    if live + len(projects) > dest.limits.max_projects:
        violations.append({"name": "projects_count", "expected": str(dest.limits.max_projects),
                           "actual": str(live + len(projects))})
    for p in projects:
        eps = rt.store.endpoints_of(p.id)
        suspends = [e.suspend_timeout_seconds for e in eps if e.suspend_timeout_seconds > 0]
        violations += limits.transfer_violations(
            dest.limits,
            max_cu=max([e.max_cu for e in eps] or [0.25]),
            min_suspend=min(suspends) if suspends else None,
            branches=len(rt.store.branches_of(p.id)),
            snapshots=len(rt.store.snapshots_of(p.id)),
            retention=p.history_retention_seconds,
        )
    if violations:
        raise ApiError(406, "destination organization limits not met",
                       body={"limits": violations})
    for p in projects:
        rt.runner.ensure_unlocked(p.id)
    for p in projects:
        p.org_id = dest_org_id
