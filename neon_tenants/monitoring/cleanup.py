"""Clean up inactive tenants, archive before delete, dry run by default.

A tenant is inactive when its computes have not been active for N days
(`compute_last_active_at`, or `created_at` for a project that never started one). Archiving
first means: a named snapshot of the default branch (`archive-<date>`), then a JSON
manifest (project, org, snapshot id, branches) written to the archive dir, and only then
`DELETE /projects/{id}`. Neon's delete is a soft delete, recoverable for 7 days with
`POST /projects/{id}/recover` (CONTRACT.md section 1); the snapshot travels with the
recovered project, the manifest outlives it. If archiving fails, the project is kept.
Protected projects (names, ids or tenant ids in the allowlist, or a protected default
branch) are never deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from neon_tenants.client.errors import NeonError
from neon_tenants.monitoring.usage import DEFAULT_PLATFORM, tenant_of

if TYPE_CHECKING:
    from neon_tenants.client import OrgClient
    from neon_tenants.client.models.branches import Branch
    from neon_tenants.client.models.projects import ProjectListItem

RECOVERY_WINDOW = timedelta(days=7)
Action = Literal["would_archive_and_delete", "archived_and_deleted", "skipped_protected", "failed"]


class Candidate(BaseModel):
    """A project idle for at least the threshold."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    project_id: str
    project_name: str
    org: str
    org_id: str | None
    last_active_at: str
    inactive_days: float
    protected: bool = False


class CleanupResult(BaseModel):
    candidate: Candidate
    action: Action
    snapshot_name: str | None = None
    snapshot_id: str | None = None
    manifest_path: str | None = None
    recoverable_until: str | None = None
    error: str | None = None


class CleanupReport(BaseModel):
    dry_run: bool
    inactive_days: float
    as_of: str
    results: list[CleanupResult]

    @property
    def deleted(self) -> list[str]:
        return [r.candidate.project_id for r in self.results if r.action == "archived_and_deleted"]


def parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def last_active(item: ProjectListItem) -> str | None:
    """compute_last_active_at if any compute ever ran, else created_at."""
    active = (item.model_extra or {}).get("compute_last_active_at")
    return str(active) if active else item.created_at


def is_protected(item: ProjectListItem, tenant: str, protected: Collection[str]) -> bool:
    return bool({item.id, item.name, tenant} & set(protected))


def find_inactive(
    org: OrgClient,
    inactive_days: float,
    *,
    now: datetime | None = None,
    search: str | None = None,
    protected: Collection[str] = (),
    platform: str = DEFAULT_PLATFORM,
) -> list[Candidate]:
    """Read-only: projects whose last activity is at least `inactive_days` before `now`."""
    as_of = now or datetime.now(UTC)
    out: list[Candidate] = []
    for item in org.iter_projects(search=search):
        stamp = last_active(item)
        if stamp is None:
            continue  # no timestamp at all: never guess that a tenant is idle
        idle = (as_of - parse_ts(stamp)).total_seconds() / 86400
        if idle < inactive_days:
            continue
        tenant = tenant_of(item.name, platform)
        out.append(
            Candidate(
                tenant=tenant,
                project_id=item.id,
                project_name=item.name,
                org=org.alias,
                org_id=item.org_id or org.org_id,
                last_active_at=stamp,
                inactive_days=round(idle, 2),
                protected=is_protected(item, tenant, protected),
            )
        )
    return out


def _manifest(c: Candidate, snapshot: dict[str, Any], branches: list[Branch]) -> dict[str, Any]:
    return {
        "kind": "neon-tenants/archive-manifest",
        "version": 1,
        "archived_at": iso(datetime.now(UTC)),
        "tenant": c.tenant,
        "project_id": c.project_id,
        "project_name": c.project_name,
        "org": c.org,
        "org_id": c.org_id,
        "last_active_at": c.last_active_at,
        "snapshot": snapshot,
        "branches": [
            {
                "id": b.id,
                "name": b.name,
                "default": b.default,
                "parent_id": b.parent_id,
                "logical_size": b.logical_size,
            }
            for b in branches
        ],
        "deleted_at": None,
        "recoverable_until": None,
        "recover_with": f"POST /projects/{c.project_id}/recover (within 7 days of deletion)",
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    """Atomic: a crash never leaves half a manifest behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def archive_and_delete(
    org: OrgClient, c: Candidate, archive_dir: Path, *, dry_run: bool = True
) -> CleanupResult:
    """Snapshot the default branch, write the manifest, then (soft-)delete the project."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    snap_name = f"archive-{day}"
    manifest_path = archive_dir / f"{c.project_id}-{day}.json"
    if c.protected:
        return CleanupResult(candidate=c, action="skipped_protected")
    try:
        branches = list(org.iter_branches(c.project_id))
        default = next((b for b in branches if b.default), None)
        if default is not None and default.protected:
            return CleanupResult(candidate=c, action="skipped_protected")
        if dry_run:
            return CleanupResult(
                candidate=c,
                action="would_archive_and_delete",
                snapshot_name=snap_name,
                manifest_path=str(manifest_path),
            )
        if default is None:
            raise ValueError("project has no default branch to snapshot")
        snap = org.create_snapshot(c.project_id, default.id, name=snap_name)
        manifest = _manifest(
            c,
            {"id": snap.id, "name": snap.name, "branch_id": default.id, "lsn": snap.lsn},
            branches,
        )
        _write_json(manifest_path, manifest)
        deleted = org.delete_project(c.project_id)
    except (NeonError, ValueError) as exc:
        return CleanupResult(
            candidate=c,
            action="failed",
            snapshot_name=snap_name,
            error=f"{type(exc).__name__}: {exc}",
        )
    extra = deleted.model_extra or {}
    deleted_at = str(extra.get("deleted_at") or iso(datetime.now(UTC)))
    until = str(extra.get("recoverable_until") or iso(parse_ts(deleted_at) + RECOVERY_WINDOW))
    manifest.update(deleted_at=deleted_at, recoverable_until=until)
    _write_json(manifest_path, manifest)
    return CleanupResult(
        candidate=c,
        action="archived_and_deleted",
        snapshot_name=snap_name,
        snapshot_id=snap.id,
        manifest_path=str(manifest_path),
        recoverable_until=until,
    )


def cleanup_inactive(
    org: OrgClient,
    inactive_days: float,
    archive_dir: Path,
    *,
    dry_run: bool = True,
    now: datetime | None = None,
    search: str | None = None,
    protected: Collection[str] = (),
    platform: str = DEFAULT_PLATFORM,
) -> CleanupReport:
    """Find idle tenants and archive+delete each (or only say what would happen)."""
    if inactive_days <= 0:
        raise ValueError("inactive_days must be positive")
    as_of = now or datetime.now(UTC)
    found = find_inactive(
        org, inactive_days, now=as_of, search=search, protected=protected, platform=platform
    )
    results = [archive_and_delete(org, c, archive_dir, dry_run=dry_run) for c in found]
    return CleanupReport(
        dry_run=dry_run, inactive_days=inactive_days, as_of=iso(as_of), results=results
    )
