"""Snapshots (CONTRACT.md section 3, beta): create takes QUERY params, delete answers 202."""

from __future__ import annotations

from ._operations import OperationsMixin
from .models.snapshots import (
    OperationsOnly,
    RestoredSnapshot,
    Snapshot,
    SnapshotOperations,
    SnapshotResponse,
    SnapshotRestore,
    SnapshotsResponse,
)

SNAPSHOTS = "/projects/{project_id}/snapshots"
SNAPSHOT = "/projects/{project_id}/snapshots/{snapshot_id}"
BRANCH = "/projects/{project_id}/branches/{branch_id}"


class SnapshotsMixin(OperationsMixin):
    """create/list/rename/delete/restore/finalize_restore."""

    def create_snapshot(
        self,
        project_id: str,
        branch_id: str,
        name: str | None = None,
        lsn: str | None = None,
        timestamp: str | None = None,
        expires_at: str | None = None,
        *,
        wait: bool = True,
    ) -> Snapshot:
        if lsn is not None and timestamp is not None:
            raise ValueError("create_snapshot: give lsn or timestamp, not both")
        params = {"name": name, "lsn": lsn, "timestamp": timestamp, "expires_at": expires_at}
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "POST", BRANCH + "/snapshot", SnapshotOperations, path=path, params=params
        )
        return self._waited(project_id, result, wait).snapshot

    def list_snapshots(self, project_id: str) -> list[Snapshot]:
        """No pagination on this route."""
        path = {"project_id": project_id}
        return self._call("GET", SNAPSHOTS, SnapshotsResponse, path=path).snapshots

    def rename_snapshot(self, project_id: str, snapshot_id: str, name: str) -> Snapshot:
        path = {"project_id": project_id, "snapshot_id": snapshot_id}
        return self._call(
            "PATCH", SNAPSHOT, SnapshotResponse, path=path, json={"snapshot": {"name": name}}
        ).snapshot

    def delete_snapshot(self, project_id: str, snapshot_id: str, *, wait: bool = True) -> None:
        path = {"project_id": project_id, "snapshot_id": snapshot_id}
        self._waited(project_id, self._call("DELETE", SNAPSHOT, OperationsOnly, path=path), wait)

    def restore_snapshot(
        self,
        project_id: str,
        snapshot_id: str,
        name: str | None = None,
        target_branch_id: str | None = None,
        finalize_restore: bool = False,
        *,
        wait: bool = True,
    ) -> RestoredSnapshot:
        """After a finalized restore the active branch id changes: callers update stored ids."""
        body = SnapshotRestore(
            name=name, target_branch_id=target_branch_id, finalize_restore=finalize_restore
        )
        path = {"project_id": project_id, "snapshot_id": snapshot_id}
        result = self._call(
            "POST", SNAPSHOT + "/restore", RestoredSnapshot, path=path, json=body.to_body()
        )
        return self._waited(project_id, result, wait)

    def finalize_restore(
        self, project_id: str, branch_id: str, name: str | None = None, *, wait: bool = True
    ) -> None:
        """Only for branches made by restore_snapshot(finalize_restore=False)."""
        body = {"name": name} if name is not None else {}
        path = {"project_id": project_id, "branch_id": branch_id}
        result = self._call(
            "POST", BRANCH + "/finalize_restore", OperationsOnly, path=path, json=body
        )
        self._waited(project_id, result, wait)
