"""Building a branch's data dir: from the template, a parent's head, a point, a snapshot.

Every builder leaves ``dest/pgdata`` as a cleanly stopped (or freshly backed-up) cluster,
``dest/archive`` empty, and returns the branch's first base backup. That backup is what
later point-in-time recovery on the new branch starts from, so the history window of a
branch begins at its creation.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from . import _proc, majors
from .backend import ComputeError
from .cluster import ADMIN, SOCKET_PORT, Cluster
from .layout import Backup, Layout, checkpoint_lsn, lsn_to_int


def prepare_dest(dest: Path) -> None:
    _proc.remove_tree(dest)
    dest.mkdir(parents=True)
    (dest / "archive").mkdir()
    (dest / "backups").mkdir()
    for path in (dest, dest / "archive", dest / "backups"):
        _proc.own(path, mode=0o700)


def _keep_backup(dest: Path, lsn: str | None = None) -> Backup:
    """Backup 0 of a branch is its data dir as built, copied just before the first start
    (ensure_first_backup): until then the branch has no history but its head, and a dev
    branch that is never connected to never pays for the copy."""
    return Backup(dir="0", time=time.time(), lsn=lsn or checkpoint_lsn(dest / "pgdata"))


def ensure_first_backup(branch_dir: Path, backups: list[Backup]) -> None:
    """Materialise a pending backup 0 (call before starting the branch's cluster)."""
    target = branch_dir / "backups" / "0"
    if any(b.dir == "0" for b in backups) and not target.exists():
        tmp = branch_dir / "backups" / ".0.tmp"
        _proc.remove_tree(tmp)
        _proc.copy_tree(branch_dir / "pgdata", tmp)
        tmp.rename(target)


def from_template(layout: Layout, dest: Path, major: int) -> Backup:
    """A fresh branch: copy the pre-initialised template; the template is its backup."""
    template = layout.ensure_template(major)
    prepare_dest(dest)
    when = time.time()
    _proc.copy_tree(template, dest / "pgdata")
    return Backup(dir=None, time=when, lsn=layout.template_lsn(major))


def basebackup(src: Cluster, target: Path) -> str:
    """Online ``pg_basebackup -c fast -X stream`` into target; returns an LSN at or after
    the end of the backup (where recovery from it is consistent). pg_basebackup of the
    branch's major, else of a newer installed one (majors.py)."""
    tool = majors.require_client_tool("pg_basebackup", src.major)
    _proc.run(
        [
            tool, "-D", str(target), "-h", str(src.sockdir),
            "-p", str(SOCKET_PORT), "-U", ADMIN, "-c", "fast", "-X", "stream", "--no-sync",
            "--no-manifest",
        ],
        what="pg_basebackup",
        timeout=600,
    )
    return src.current_lsn()


def periodic_backup(src: Cluster, backups_dir: Path, name: str) -> Backup:
    """A further base backup of a running branch, so that PITR replays less WAL."""
    target = backups_dir / name
    _proc.remove_tree(target)
    try:
        lsn = basebackup(src, target)
    except ComputeError:
        _proc.remove_tree(target)
        raise
    return Backup(dir=name, time=time.time(), lsn=lsn)


def _finish(dest: Path, snapshot: bool, lsn: str | None = None) -> Backup:
    """Keep backup 0 for a branch; a snapshot is just the stopped data dir."""
    if not snapshot:
        return _keep_backup(dest, lsn)
    for extra in ("archive", "backups"):
        _proc.remove_tree(dest / extra)
    return Backup(dir=None, time=time.time(), lsn=lsn or checkpoint_lsn(dest / "pgdata"))


def from_head(src_dir: Path, src: Cluster | None, dest: Path, *, snapshot: bool = False) -> Backup:
    """Branch from the parent's head: online pg_basebackup -c fast, or a cold copy.

    pg_basebackup does not disturb the parent's connections; without ``-c fast`` it waits
    for a spread checkpoint, which can take minutes.
    """
    prepare_dest(dest)
    if src is not None and src.running:
        lsn = basebackup(src, dest / "pgdata")
        return _finish(dest, snapshot, lsn)
    _proc.copy_tree(src_dir / "pgdata", dest / "pgdata")
    (dest / "pgdata" / "postmaster.pid").unlink(missing_ok=True)
    return _finish(dest, snapshot)


def from_snapshot(snapshot_dir: Path, dest: Path) -> Backup:
    prepare_dest(dest)
    _proc.copy_tree(snapshot_dir / "pgdata", dest / "pgdata")
    return _keep_backup(dest)


def choose_backup(
    backups: list[Backup], *, lsn: str | None, timestamp: datetime | None
) -> Backup | None:
    """The latest backup taken before the point (None: the point is before them all)."""
    fit = [
        b for b in backups
        if (timestamp is None or b.time <= timestamp.timestamp())
        and (lsn is None or lsn_to_int(b.lsn) <= lsn_to_int(lsn))
    ]
    return max(fit, key=lambda b: b.time) if fit else None


def recovery_conf(archive: Path, *, lsn: str | None, timestamp: datetime | None) -> str:
    lines = [
        f"restore_command = 'cp \"{archive}/%f\" \"%p\"'",
        "recovery_target_action = 'promote'",
        "recovery_target_timeline = 'latest'",
        # no hot standby: no need to match the source's max_connections etc., and no
        # connections are accepted before promotion
        "hot_standby = off",
    ]
    if lsn is not None:
        lines.append(f"recovery_target_lsn = '{lsn}'")
    else:
        assert timestamp is not None
        # an explicit offset: a bare timestamp would be read in the server's time zone
        lines.append(f"recovery_target_time = '{timestamp.astimezone(UTC).isoformat()}'")
    return "\n".join(lines) + "\n"


def at_point(
    layout: Layout,
    src_dir: Path,
    backups: list[Backup],
    dest: Path,
    sockdir: Path,
    *,
    lsn: str | None,
    timestamp: datetime | None,
    roles: dict[str, str],
    databases: list[list[str]],
    major: int,
    snapshot: bool = False,
) -> Backup:
    """Real point-in-time recovery: a base backup + the source's archived WAL, promote.

    The caller made sure the source's WAL past the point is archived (Cluster.archive_now).
    Recovery needs recovery.signal and recovery_target_action=promote; the restored cluster
    archives into its own ``../archive``, never into the source's.
    """
    backup = choose_backup(backups, lsn=lsn, timestamp=timestamp)
    if backup is None:
        raise ComputeError("the point is before the branch's history window", status=422)
    base = layout.template(major) if backup.dir is None else src_dir / "backups" / backup.dir
    prepare_dest(dest)
    pgdata = dest / "pgdata"
    _proc.copy_tree(base, pgdata)
    for stale in ("postmaster.pid", "standby.signal"):
        (pgdata / stale).unlink(missing_ok=True)
    (pgdata / "recovery.signal").write_text("")
    (pgdata / "neon_emulator.conf").write_text(
        recovery_conf(src_dir / "archive", lsn=lsn, timestamp=timestamp)
    )
    for path in (pgdata / "recovery.signal", pgdata / "neon_emulator.conf"):
        _proc.own(path, mode=0o600)
    cluster = Cluster(pgdata, sockdir, major)
    try:
        cluster.start(timeout=300, wait_promoted=True)
        if backup.dir is None:
            # before its first start a branch was the template + its roles and databases
            cluster.apply_roles(sorted(roles.items()))
            cluster.apply_databases([(d[0], d[1]) for d in databases])
    finally:
        (pgdata / "neon_emulator.conf").write_text("")
        cluster.stop()
    return _finish(dest, snapshot)
