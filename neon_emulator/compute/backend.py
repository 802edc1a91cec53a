"""The seam between the emulator's control plane and what runs behind branches.

The control plane owns all metadata (ids, names, states, operations); the backend owns
processes and data. Methods are synchronous and are called from operation worker threads,
never from the event loop, so a backend may block (initdb, pg_basebackup, recovery).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RoleSpec:
    name: str
    password: str


@dataclass(frozen=True)
class EndpointAddress:
    """Where an endpoint is reached: proxy host/port and pooler host/port (all loopback)."""

    host: str
    pooler_host: str
    port: int


@dataclass
class BranchUsage:
    """Counters since the start of the billing period, from real activity."""

    active_time_seconds: int = 0
    compute_time_seconds: int = 0  # uptime * CU
    written_data_bytes: int = 0  # WAL bytes
    data_transfer_bytes: int = 0  # bytes through the proxy
    logical_size_bytes: int = 0  # database sizes


@dataclass
class QuotaPolicy:
    """Project quota as in settings.quota; 0 means unlimited."""

    active_time_seconds: int = 0
    compute_time_seconds: int = 0
    written_data_bytes: int = 0
    data_transfer_bytes: int = 0
    logical_size_bytes: int = 0


@dataclass
class BranchSource:
    """Where a new branch's data comes from. All None: empty (from the template)."""

    branch_id: str | None = None
    lsn: str | None = None
    timestamp: datetime | None = None  # timezone-aware
    schema_only: bool = False


@dataclass
class EndpointSpec:
    endpoint_id: str
    branch_id: str
    address: EndpointAddress
    min_cu: float = 0.25
    max_cu: float = 0.25
    suspend_timeout_seconds: int = 300  # already resolved: 0 -> 300; -1 never
    read_only: bool = False
    roles: list[RoleSpec] = field(default_factory=list)


class ComputeError(Exception):
    """A backend failure; the control plane turns it into a failed operation / GeneralError."""

    def __init__(self, message: str, *, status: int = 500, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ComputeBackend(Protocol):
    # -- branches (timelines) -------------------------------------------------------
    def create_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        source: BranchSource,
        roles: list[RoleSpec],
        databases: list[tuple[str, str]],  # (database name, owner role)
        pg_version: int,
    ) -> str | None:
        """Create the branch's data; return its head LSN ('0/16B3748') or None if unknown."""
        ...

    def delete_branch(self, project_id: str, branch_id: str) -> None: ...

    def restore_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        source: BranchSource,
        preserve_as_branch_id: str | None,
    ) -> None:
        """Replace branch_id's data with source's data at the point (in place).

        With preserve_as_branch_id, the old data lives on under that (new) branch id."""
        ...

    def current_lsn(self, project_id: str, branch_id: str) -> str | None: ...

    def check_point_in_window(
        self, project_id: str, branch_id: str, *, lsn: str | None, timestamp: datetime | None
    ) -> None:
        """Raise ComputeError(status=400/422) if the point is outside the branch's history."""
        ...

    # -- snapshots --------------------------------------------------------------------
    def create_snapshot(
        self, project_id: str, branch_id: str, snapshot_id: str, *, lsn: str | None,
        timestamp: datetime | None,
    ) -> str | None:
        """Capture the branch at the point; return the snapshot's LSN."""
        ...

    def delete_snapshot(self, project_id: str, snapshot_id: str) -> None: ...

    def restore_snapshot(self, project_id: str, snapshot_id: str, new_branch_id: str) -> None:
        """Materialise a snapshot as the data of a (new) branch."""
        ...

    # -- endpoints --------------------------------------------------------------------
    def register_endpoint(self, project_id: str, spec: EndpointSpec) -> None:
        """Make the endpoint reachable (listening proxy) without starting Postgres."""
        ...

    def update_endpoint(self, project_id: str, spec: EndpointSpec) -> None: ...

    def start_endpoint(self, project_id: str, endpoint_id: str) -> None: ...

    def suspend_endpoint(self, project_id: str, endpoint_id: str) -> None: ...

    def restart_endpoint(self, project_id: str, endpoint_id: str) -> None: ...

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> None: ...

    def endpoint_state(self, project_id: str, endpoint_id: str) -> str:
        """'active' or 'idle' (as Neon's Endpoint.current_state)."""
        ...

    # -- roles and databases (SQL applied to the branch) -------------------------------
    def create_role(self, project_id: str, branch_id: str, role: RoleSpec) -> None: ...

    def set_role_password(self, project_id: str, branch_id: str, role: RoleSpec) -> None: ...

    def delete_role(self, project_id: str, branch_id: str, name: str) -> None: ...

    def create_database(self, project_id: str, branch_id: str, name: str, owner: str) -> None: ...

    def delete_database(self, project_id: str, branch_id: str, name: str) -> None: ...

    def branch_schema(self, project_id: str, branch_id: str, database: str) -> str:
        """Schema-only SQL dump (pg_dump -s) of one database; '' when the branch has no data."""
        ...

    # -- usage and quotas -----------------------------------------------------------------
    def set_quota(self, project_id: str, quota: QuotaPolicy) -> None: ...

    def usage(self, project_id: str) -> dict[str, BranchUsage]:
        """Per-branch usage counters."""
        ...

    def quota_exceeded(self, project_id: str) -> str | None:
        """Name of the exceeded quota that suspends computes, or None."""
        ...

    # -- lifecycle ----------------------------------------------------------------------
    def available_pg_versions(self) -> list[int]:
        """The PostgreSQL majors this backend can run (a project asking for another is
        refused with 400, never served by a different major)."""
        ...

    def delete_project(self, project_id: str) -> None: ...

    def shutdown(self) -> None:
        """Stop every process this backend started."""
        ...
