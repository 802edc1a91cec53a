"""In-memory state of a PostgresBackend: branches (cluster + meta) and endpoints.

A branch's lock serialises everything that touches its data dir or its postmaster (start,
stop, branching from it, restore). Counters that the proxy thread updates per packet are
guarded by the backend's small registry lock instead, so data transfer never waits on a
slow branch operation.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .backend import EndpointSpec
from .cluster import SOCKET_PORT, Cluster
from .layout import BranchMeta
from .pooler import Pooler


@dataclass
class BranchState:
    project_id: str
    branch_id: str
    path: Path
    meta: BranchMeta
    sockdir: Path
    lock: threading.RLock = field(default_factory=threading.RLock)
    cluster: Cluster | None = None
    sampled_at: float = 0.0  # monotonic time of the last usage sample

    @property
    def running(self) -> bool:
        return self.cluster is not None and self.cluster.running

    def get_cluster(self) -> Cluster:
        if self.cluster is None:
            self.cluster = Cluster(self.path / "pgdata", self.sockdir, self.meta.pg_version)
        return self.cluster

    @property
    def socket(self) -> str:
        return str(self.sockdir / f".s.PGSQL.{SOCKET_PORT}")

    def save(self) -> None:
        if self.path.is_dir():
            self.meta.save(self.path / "meta.json")


@dataclass
class EndpointState:
    project_id: str
    spec: EndpointSpec
    active: bool = False
    active_since: float | None = None
    conns: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    pooler: Pooler | None = None

    @property
    def endpoint_id(self) -> str:
        return self.spec.endpoint_id

    @property
    def branch_id(self) -> str:
        return self.spec.branch_id

    def idle_for(self, now: float) -> float:
        return now - self.last_activity if self.conns == 0 else 0.0
