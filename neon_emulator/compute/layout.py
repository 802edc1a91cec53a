"""Where a backend keeps its data, and the small JSON record kept next to each branch.

    <data_dir>/template/pgdata                 initdb once per data dir, then copied
    <data_dir>/projects/<p>/branches/<b>/      meta.json, pgdata/, archive/, backups/<n>/
    <data_dir>/projects/<p>/snapshots/<s>/     meta.json, pgdata/ (a stopped cluster)

archive_command is relative (``../archive``), so a branch dir can be renamed (restore with
preserve) while its cluster is stopped. meta.json holds role passwords (the control plane
stores them too; pgbouncer needs them), so it is written mode 0600.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import _proc, majors
from .backend import BranchUsage, ComputeError
from .cluster import ADMIN, BASE_CONF, HBA

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def lsn_to_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def int_to_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def safe_id(value: str) -> str:
    """Ids become path parts: refuse anything that could escape the data dir."""
    if not _ID.match(value):
        raise ComputeError(f"invalid id {value!r}", status=400)
    return value


@dataclass
class Backup:
    """A base backup: ``dir`` under backups/ (None: the shared template). time is epoch s."""

    dir: str | None
    time: float
    lsn: str


@dataclass
class BranchMeta:
    materialized: bool = False
    created_at: float = field(default_factory=time.time)
    roles: dict[str, str] = field(default_factory=dict)
    databases: list[list[str]] = field(default_factory=list)
    backups: list[Backup] = field(default_factory=list)
    stopped_at: float | None = None
    stopped_lsn: str | None = None
    usage: BranchUsage = field(default_factory=BranchUsage)
    active_seconds: float = 0.0  # float accumulators behind usage's whole seconds
    compute_seconds: float = 0.0
    wal_mark: str | None = None  # LSN already counted in usage.written_data_bytes
    read_only_quota: bool = False
    running_since: float | None = None  # set while a postmaster runs; left set by a crash
    pg_version: int = 15  # the major its data dir was made by (meta.json before #15: 15)

    @classmethod
    def load(cls, path: Path) -> BranchMeta:
        raw: dict[str, Any] = json.loads(path.read_text())
        raw["backups"] = [Backup(**b) for b in raw.get("backups", [])]
        raw["usage"] = BranchUsage(**raw.get("usage", {}))
        return cls(**raw)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        tmp.replace(path)


def checkpoint_lsn(pgdata: Path) -> str:
    """The checkpoint a stopped data dir would start from, read from global/pg_control.

    ControlFileData starts with system_identifier (8 bytes), pg_control_version and
    catalog_version_no (4 + 4), state (4, padded to 8) and time (8), then checkPoint (the
    XLogRecPtr pg_controldata prints as "Latest checkpoint location"): offset 32 in every
    major from 9.x to 18, so no major-specific pg_controldata is needed (the npm builds of
    other majors do not ship one).
    """
    try:
        with open(pgdata / "global" / "pg_control", "rb") as fh:
            head = fh.read(40)
    except OSError as exc:
        raise ComputeError(f"cannot read pg_control: {exc.strerror}") from exc
    if len(head) < 40:
        raise ComputeError("pg_control is truncated")
    (lsn,) = struct.unpack("<Q", head[32:40])
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


class Layout:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self._template_lock = threading.Lock()

    def project(self, project_id: str) -> Path:
        return self.root / "projects" / safe_id(project_id)

    def branch(self, project_id: str, branch_id: str) -> Path:
        return self.project(project_id) / "branches" / safe_id(branch_id)

    def snapshot(self, project_id: str, snapshot_id: str) -> Path:
        return self.project(project_id) / "snapshots" / safe_id(snapshot_id)

    def _template_base(self, major: int) -> Path:
        return self.root / ("template" if major == 15 else f"template-{major}")

    def template(self, major: int) -> Path:
        return self._template_base(major) / "pgdata"

    def template_lsn(self, major: int) -> str:
        return (self._template_base(major) / "lsn").read_text().strip()

    def ensure_template(self, major: int) -> Path:
        """initdb once per data dir and major (1 MB WAL segments keep archives small)."""
        with self._template_lock:
            if self.template(major).is_dir():
                return self.template(major)
            base = self._template_base(major)
            build = self.root / f"{base.name}.build-{os.getpid()}"
            _proc.remove_tree(build)
            build.mkdir(parents=True)
            _proc.own(build, mode=0o700)
            pgdata = build / "pgdata"
            _proc.run(
                [
                    str(majors.server_bin(major) / "initdb"), "-D", str(pgdata), "-U", ADMIN,
                    "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8", "--wal-segsize=1", "--no-sync",
                    "--no-instructions",
                ],
                what="initdb",
            )
            with open(pgdata / "postgresql.conf", "a") as conf:
                conf.write(BASE_CONF)
            (pgdata / "pg_hba.conf").write_text(HBA)
            (pgdata / "neon_emulator.conf").write_text("")
            _proc.own(pgdata, recursive=True)
            (build / "lsn").write_text(checkpoint_lsn(pgdata))
            _proc.remove_tree(base)
            build.rename(base)
            return self.template(major)
