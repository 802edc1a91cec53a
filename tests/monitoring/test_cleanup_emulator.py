"""Inactive-tenant cleanup against the emulator: dry run changes nothing; apply archives
(snapshot + manifest) before deleting; protected and un-archivable projects are kept.

Inactivity is judged against an injected `now` (10 days after the emulator's own clock)
instead of moving the shared emulator's clock, which other tests in the session rely on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.client import BranchUpdate, NeonClient
from neon_tenants.client.errors import NotFound
from neon_tenants.monitoring import cleanup_inactive, find_inactive

from .conftest import MakeProject


@pytest.fixture
def later(metadata_emulator: Any) -> datetime:
    now = metadata_emulator.admin("GET", "state")["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(days=10)


def live_ids(neon: NeonClient, prefix: str, org: str = "free") -> set[str]:
    return {p.id for p in neon.org(org).iter_projects(search=prefix)}


def test_fresh_projects_are_not_inactive(
    neon: NeonClient, make_project: MakeProject, prefix: str, later: datetime
) -> None:
    make_project("fresh")
    assert find_inactive(neon.org("free"), 7, now=later - timedelta(days=10), search=prefix) == []
    found = find_inactive(neon.org("free"), 7, now=later, search=prefix, platform=prefix)
    assert [c.tenant for c in found] == ["fresh"]
    assert 9.5 < found[0].inactive_days < 10.5


def test_dry_run_lists_and_deletes_nothing(
    neon: NeonClient, make_project: MakeProject, prefix: str, tmp_path: Path, later: datetime
) -> None:
    idle = make_project("idle").project
    keep = make_project("keep").project
    org = neon.org("free")
    report = cleanup_inactive(org, 7, tmp_path, now=later, search=prefix,
                              protected=[keep.name], platform=prefix)  # fmt: skip
    assert report.dry_run is True
    actions = {r.candidate.project_id: r.action for r in report.results}
    assert actions == {idle.id: "would_archive_and_delete", keep.id: "skipped_protected"}
    assert report.deleted == []
    assert live_ids(neon, prefix) == {idle.id, keep.id}
    assert org.list_snapshots(idle.id) == []
    assert list(tmp_path.iterdir()) == []


def test_apply_archives_then_deletes_and_project_is_recoverable(
    neon: NeonClient, make_project: MakeProject, prefix: str, tmp_path: Path, later: datetime
) -> None:
    idle = make_project("idle").project
    keep = make_project("keep").project
    org = neon.org("free")
    report = cleanup_inactive(org, 7, tmp_path, dry_run=False, now=later, search=prefix,
                              protected=[keep.id], platform=prefix)  # fmt: skip
    assert report.deleted == [idle.id]
    result = next(r for r in report.results if r.candidate.project_id == idle.id)
    assert result.action == "archived_and_deleted" and result.snapshot_id
    assert result.snapshot_name == "archive-" + datetime.now(UTC).strftime("%Y-%m-%d")
    # the project is gone from the live list, listed as recoverable, and keeps its snapshot
    assert live_ids(neon, prefix) == {keep.id}
    with pytest.raises(NotFound):
        org.get_project(idle.id)
    deleted = {p.id: p for p in org.iter_projects(search=prefix, recoverable=True)}
    assert idle.id in deleted and deleted[idle.id].deleted_at
    # the manifest was written before the delete and completed after it
    manifest = json.loads(Path(str(result.manifest_path)).read_text())
    assert manifest["project_id"] == idle.id and manifest["project_name"] == idle.name
    assert manifest["org"] == "free" and manifest["org_id"] == org.org_id
    assert manifest["snapshot"]["id"] == result.snapshot_id
    assert [b["default"] for b in manifest["branches"]] == [True]
    assert manifest["deleted_at"] and manifest["recoverable_until"] == result.recoverable_until
    gone, until = (datetime.fromisoformat(manifest[k].replace("Z", "+00:00"))
                   for k in ("deleted_at", "recoverable_until"))  # fmt: skip
    assert until - gone == timedelta(days=7)
    org.recover_project(idle.id)
    snaps = org.list_snapshots(idle.id)
    assert [(s.id, s.name) for s in snaps] == [(result.snapshot_id, result.snapshot_name)]
    assert snaps[0].source_branch_id == manifest["branches"][0]["id"]


def test_protected_default_branch_is_never_deleted(
    neon: NeonClient, make_project: MakeProject, prefix: str, tmp_path: Path, later: datetime
) -> None:
    created = make_project("guarded")
    org = neon.org("free")
    org.update_branch(created.project.id, created.branch.id, BranchUpdate(protected=True))
    report = cleanup_inactive(org, 7, tmp_path, dry_run=False, now=later, search=prefix)
    assert [r.action for r in report.results] == ["skipped_protected"]
    assert live_ids(neon, prefix) == {created.project.id}


def test_archive_failure_keeps_the_project(
    neon: NeonClient, make_project: MakeProject, prefix: str, tmp_path: Path, later: datetime
) -> None:
    """The free org allows one snapshot per project: a second one (the archive) fails, so
    nothing is deleted and no manifest is left behind."""
    created = make_project("full")
    org = neon.org("free")
    org.create_snapshot(created.project.id, created.branch.id, name="user-snapshot")
    report = cleanup_inactive(org, 7, tmp_path, dry_run=False, now=later, search=prefix)
    (result,) = report.results
    assert result.action == "failed" and result.error
    assert live_ids(neon, prefix) == {created.project.id}
    assert list(tmp_path.iterdir()) == []


def test_non_positive_threshold_is_refused(neon: NeonClient, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        cleanup_inactive(neon.org("free"), 0, tmp_path)
