"""A ComputeBackend with no processes: LSNs from a counter, zero usage, empty schemas.

Used for pure control-plane tests and the 1,000-project benchmark (ARCHITECTURE.md).
"""

from __future__ import annotations

import threading
from datetime import datetime

from neon_emulator.compute.backend import (
    BranchSource,
    BranchUsage,
    ComputeError,
    EndpointSpec,
    QuotaPolicy,
    RoleSpec,
)
from neon_emulator.compute.majors import NEON_MAJORS

SUSPENDING = ("active_time_seconds", "compute_time_seconds", "written_data_bytes",
              "data_transfer_bytes")


class MetadataBackend:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lsn = 0x16B3748
        self._states: dict[str, str] = {}
        self._branches: dict[str, set[str]] = {}
        self.quotas: dict[str, QuotaPolicy] = {}
        self.exceeded: dict[str, str] = {}  # set by tests / admin to simulate a quota hit
        self.failures: dict[str, list[str]] = {}  # method name -> queued error messages
        # counters set through the admin usage route: project -> branch -> usage
        self.counters: dict[str, dict[str, BranchUsage]] = {}

    def fail_next(self, method: str, message: str, times: int = 1) -> None:
        """Make the next `times` calls of `method` raise ComputeError (admin/tests)."""
        with self._lock:
            self.failures.setdefault(method, []).extend([message] * times)

    def _maybe_fail(self, method: str) -> None:
        with self._lock:
            queue = self.failures.get(method)
            message = queue.pop(0) if queue else None
        if message is not None:
            raise ComputeError(message)

    def _next_lsn(self) -> str:
        with self._lock:
            self._lsn += 0x100
            return f"0/{self._lsn:X}"

    def available_pg_versions(self) -> list[int]:
        return list(NEON_MAJORS)  # no processes: every major Neon offers

    def create_branch(
        self, project_id: str, branch_id: str, *, source: BranchSource,
        roles: list[RoleSpec], databases: list[tuple[str, str]], pg_version: int,
    ) -> str | None:
        self._maybe_fail("create_branch")
        self._branches.setdefault(project_id, set()).add(branch_id)
        return self._next_lsn()

    def delete_branch(self, project_id: str, branch_id: str) -> None:
        self._maybe_fail("delete_branch")
        self._branches.get(project_id, set()).discard(branch_id)

    def restore_branch(
        self, project_id: str, branch_id: str, *, source: BranchSource,
        preserve_as_branch_id: str | None,
    ) -> None:
        self._maybe_fail("restore_branch")
        if preserve_as_branch_id:
            self._branches.setdefault(project_id, set()).add(preserve_as_branch_id)

    def current_lsn(self, project_id: str, branch_id: str) -> str | None:
        return self._next_lsn()

    def check_point_in_window(
        self, project_id: str, branch_id: str, *, lsn: str | None, timestamp: datetime | None
    ) -> None:
        return None

    def create_snapshot(
        self, project_id: str, branch_id: str, snapshot_id: str, *, lsn: str | None,
        timestamp: datetime | None,
    ) -> str | None:
        self._maybe_fail("create_snapshot")
        return lsn or self._next_lsn()

    def delete_snapshot(self, project_id: str, snapshot_id: str) -> None:
        return None

    def restore_snapshot(self, project_id: str, snapshot_id: str, new_branch_id: str) -> None:
        self._maybe_fail("restore_snapshot")
        self._branches.setdefault(project_id, set()).add(new_branch_id)

    def register_endpoint(self, project_id: str, spec: EndpointSpec) -> None:
        self._maybe_fail("register_endpoint")
        self._states[spec.endpoint_id] = "idle"

    def update_endpoint(self, project_id: str, spec: EndpointSpec) -> None:
        self._maybe_fail("update_endpoint")
        return None

    def start_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self._maybe_fail("start_endpoint")
        self._states[endpoint_id] = "active"

    def suspend_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self._maybe_fail("suspend_endpoint")
        self._states[endpoint_id] = "idle"

    def restart_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self._maybe_fail("restart_endpoint")
        self._states[endpoint_id] = "active"

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self._states.pop(endpoint_id, None)

    def endpoint_state(self, project_id: str, endpoint_id: str) -> str:
        return self._states.get(endpoint_id, "idle")

    def create_role(self, project_id: str, branch_id: str, role: RoleSpec) -> None:
        self._maybe_fail("create_role")
        return None

    def set_role_password(self, project_id: str, branch_id: str, role: RoleSpec) -> None:
        return None

    def delete_role(self, project_id: str, branch_id: str, name: str) -> None:
        return None

    def create_database(self, project_id: str, branch_id: str, name: str, owner: str) -> None:
        self._maybe_fail("create_database")
        return None

    def delete_database(self, project_id: str, branch_id: str, name: str) -> None:
        return None

    def branch_schema(self, project_id: str, branch_id: str, database: str) -> str:
        return ""

    def set_quota(self, project_id: str, quota: QuotaPolicy) -> None:
        self.quotas[project_id] = quota

    def set_usage(self, project_id: str, branch_id: str, usage: BranchUsage) -> None:
        """Admin/tests: this branch's counters for the period (no real traffic behind them)."""
        with self._lock:
            self.counters.setdefault(project_id, {})[branch_id] = usage

    def usage(self, project_id: str) -> dict[str, BranchUsage]:
        set_ = self.counters.get(project_id, {})
        return {b: set_.get(b) or BranchUsage() for b in self._branches.get(project_id, set())}

    def quota_exceeded(self, project_id: str) -> str | None:
        """A simulated hit wins; else the first suspending counter at or over its quota
        (every quota but logical size suspends computes, CONTRACT.md section 1)."""
        if project_id in self.exceeded:
            return self.exceeded[project_id]
        quota = self.quotas.get(project_id)
        if quota is None or project_id not in self.counters:
            return None
        for name in SUSPENDING:
            limit = int(getattr(quota, name))
            used = sum(int(getattr(u, name)) for u in self.usage(project_id).values())
            if limit > 0 and used >= limit:
                return name
        return None

    def delete_project(self, project_id: str) -> None:
        self._branches.pop(project_id, None)
        self.counters.pop(project_id, None)

    def shutdown(self) -> None:
        self._states.clear()
