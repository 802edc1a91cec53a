"""History: branching at a point, the history window, restore in place, snapshots.

Point-in-time work always goes through branching.at_point (a base backup + archived WAL);
a point after the source's last clean stop is its head, so no recovery is needed then.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import _proc, branching
from .accounting import Accounting
from .backend import BranchSource, BranchUsage, ComputeError
from .layout import Backup, BranchMeta, checkpoint_lsn, lsn_to_int
from .state import BranchState


class History(Accounting):
    def _build(
        self, dest: Path, src: BranchState, *, lsn: str | None, timestamp: datetime | None,
        snapshot: bool = False,
    ) -> Backup:
        """Materialise src (at a point, or its head) into dest. Caller holds src.lock."""
        if lsn is not None or timestamp is not None:
            self._check_window(src, lsn, timestamp)
            if not src.running and src.meta.running_since is not None:
                # it did not stop cleanly (a crash): its WAL tail is not archived yet
                with self.running(src):
                    return self._build(dest, src, lsn=lsn, timestamp=timestamp,
                                       snapshot=snapshot)
            at_head = False
            if src.running and src.cluster is not None:
                src.cluster.archive_now(src.path / "archive")
            elif src.meta.stopped_at is None:
                at_head = True  # never ran since it was created: every point is its head
            elif timestamp is not None:
                at_head = timestamp.timestamp() >= src.meta.stopped_at
            elif lsn is not None and src.meta.stopped_lsn is not None:
                at_head = lsn_to_int(lsn) >= lsn_to_int(src.meta.stopped_lsn)
            if not at_head:
                return branching.at_point(
                    self.layout, src.path, src.meta.backups, dest, self._sockdir(),
                    lsn=lsn, timestamp=timestamp, roles=src.meta.roles,
                    databases=src.meta.databases, major=src.meta.pg_version,
                    snapshot=snapshot,
                )
        return branching.from_head(src.path, src.cluster, dest, snapshot=snapshot)

    def restore_branch(
        self, project_id: str, branch_id: str, *, source: BranchSource,
        preserve_as_branch_id: str | None,
    ) -> None:
        target = self.branch(project_id, branch_id)
        src = self.branch(project_id, source.branch_id or branch_id)
        first, second = sorted([target, src], key=lambda b: b.branch_id)
        with first.lock, second.lock:
            build = target.path.parent / f".build-{branch_id}-{secrets.token_hex(4)}"
            try:
                if src.meta.materialized:
                    backup: Backup | None = self._build(
                        build, src, lsn=source.lsn, timestamp=source.timestamp
                    )
                else:
                    backup = None
                self._swap_in(target, build, backup, src.meta, preserve_as_branch_id)
            finally:
                _proc.remove_tree(build)

    def _swap_in(
        self, target: BranchState, build: Path, backup: Backup | None, src_meta: BranchMeta,
        preserve_as: str | None,
    ) -> None:
        """Replace target's data dir with build (caller holds the locks)."""
        was_active = self.has_active(target)
        for ep in self.endpoints_of(target.project_id, target.branch_id):
            self._stop_pooler(ep)
        self.stop_cluster(target)
        if preserve_as:
            keep = self.layout.branch(target.project_id, preserve_as)
            if keep.exists():
                raise ComputeError(f"branch {preserve_as} already exists", status=409)
            if target.path.is_dir():
                target.path.rename(keep)
            else:
                keep.mkdir(parents=True)
            kept = BranchMeta.load(keep / "meta.json") if (keep / "meta.json").exists() \
                else BranchMeta(roles=dict(target.meta.roles), databases=target.meta.databases)
            kept.usage = BranchUsage()
            kept.active_seconds = kept.compute_seconds = 0.0
            kept.save(keep / "meta.json")
            self.forget_branch(target.project_id, preserve_as)
        else:
            _proc.remove_tree(target.path)
        meta = target.meta
        meta.pg_version = src_meta.pg_version
        meta.roles = {**src_meta.roles, **meta.roles}
        meta.databases = _merge_dbs(src_meta.databases, meta.databases)
        meta.wal_mark = meta.stopped_lsn = None
        meta.stopped_at = meta.running_since = None
        meta.created_at = time.time()
        if backup is None:
            meta.materialized, meta.backups = False, []
            target.path.mkdir(parents=True, exist_ok=True)
        else:
            build.rename(target.path)
            meta.materialized, meta.backups = True, [backup]
        target.cluster = None
        target.save()
        if was_active:
            self.start_cluster(target)

    def current_lsn(self, project_id: str, branch_id: str) -> str | None:
        br = self.branch(project_id, branch_id)
        with br.lock:
            if not br.meta.materialized:
                return None
            if br.running and br.cluster is not None:
                return br.cluster.current_lsn()
            if br.meta.stopped_lsn:
                return br.meta.stopped_lsn
            return checkpoint_lsn(br.path / "pgdata")

    def check_point_in_window(
        self, project_id: str, branch_id: str, *, lsn: str | None, timestamp: datetime | None
    ) -> None:
        self._check_window(self.branch(project_id, branch_id), lsn, timestamp)

    def _check_window(self, br: BranchState, lsn: str | None, timestamp: datetime | None) -> None:
        if timestamp is not None:
            if timestamp.tzinfo is None:
                raise ComputeError("the timestamp needs a time zone offset", status=400)
            if timestamp.timestamp() > time.time() + 1:
                raise ComputeError(f"{timestamp.isoformat()} is in the future", status=400)
            earliest = min((b.time for b in br.meta.backups), default=br.meta.created_at)
            if timestamp.timestamp() < earliest:
                raise ComputeError(
                    f"{timestamp.isoformat()} is before the start of the branch's history "
                    f"({datetime.fromtimestamp(earliest).astimezone().isoformat()})", status=422,
                )
        if lsn is not None:
            try:
                value = lsn_to_int(lsn)
            except ValueError as exc:
                raise ComputeError(f"invalid LSN {lsn!r}", status=400) from exc
            if not br.meta.materialized:
                return
            earliest_lsn = min(lsn_to_int(b.lsn) for b in br.meta.backups)
            if value < earliest_lsn:
                raise ComputeError(f"LSN {lsn} is before the branch's history", status=422)
            head = self.current_lsn(br.project_id, br.branch_id)
            if head is not None and value > lsn_to_int(head):
                raise ComputeError(f"LSN {lsn} is beyond the branch's head {head}", status=422)

    # -- snapshots ------------------------------------------------------------------------------
    def create_snapshot(
        self, project_id: str, branch_id: str, snapshot_id: str, *, lsn: str | None,
        timestamp: datetime | None,
    ) -> str | None:
        br = self.branch(project_id, branch_id)
        path = self.layout.snapshot(project_id, snapshot_id)
        with br.lock:
            info: dict[str, Any] = {"roles": br.meta.roles, "databases": br.meta.databases,
                                    "lsn": None, "pg_version": br.meta.pg_version}
            if br.meta.materialized:
                self._build(path, br, lsn=lsn, timestamp=timestamp, snapshot=True)
                info["lsn"] = checkpoint_lsn(path / "pgdata")
            else:
                path.mkdir(parents=True, exist_ok=True)
            with open(path / "meta.json", "w") as out:
                json.dump(info, out)
            (path / "meta.json").chmod(0o600)
            return info["lsn"]  # type: ignore[no-any-return]

    def delete_snapshot(self, project_id: str, snapshot_id: str) -> None:
        _proc.remove_tree(self.layout.snapshot(project_id, snapshot_id))

    def restore_snapshot(self, project_id: str, snapshot_id: str, new_branch_id: str) -> None:
        path = self.layout.snapshot(project_id, snapshot_id)
        if not (path / "meta.json").exists():
            raise ComputeError(f"snapshot {snapshot_id} has no data", status=404)
        info = json.loads((path / "meta.json").read_text())
        src_meta = BranchMeta(roles=info["roles"], databases=info["databases"],
                              pg_version=int(info.get("pg_version", 15)))
        target = self.branch(project_id, new_branch_id)
        with target.lock:
            build = target.path.parent / f".build-{new_branch_id}-{secrets.token_hex(4)}"
            try:
                backup = branching.from_snapshot(path, build) if info["lsn"] else None
                self._swap_in(target, build, backup, src_meta, None)
            finally:
                _proc.remove_tree(build)



def _merge_dbs(first: list[list[str]], second: list[list[str]]) -> list[list[str]]:
    seen = {d[0] for d in first}
    return [list(d) for d in first] + [list(d) for d in second if d[0] not in seen]
