"""Usage counters and quota enforcement, as Neon does it (CONTRACT.md, quota semantics).

Going over active time, compute time, written data or data transfer suspends every compute
of the project and refuses wake-ups (by API and by connection) until set_quota raises the
limit. Over logical_size_bytes the computes keep running but become read-only
(``ALTER SYSTEM SET default_transaction_read_only = on`` + reload; a session can still
``SET default_transaction_read_only = off``: an emulator, not a security boundary).
Counters are cumulative since the branch was created (no billing-period reset).
"""

from __future__ import annotations

import contextlib
import threading
import time

from ._scram import Secret
from .backend import BranchUsage, QuotaPolicy
from .runtime import Runtime
from .state import BranchState, EndpointState
from .tls import Identity

_SUSPENDING = ("active_time_seconds", "compute_time_seconds", "written_data_bytes",
               "data_transfer_bytes")


class _Route:
    """What the proxy calls back for one endpoint listener (direct or pooled)."""

    def __init__(self, runtime: Accounting, ep: EndpointState, pooled: bool,
                 identity: Identity | None) -> None:
        self.runtime = runtime
        self.ep = ep
        self.pooled = pooled
        self.identity = identity

    def password(self, user: str) -> str | None:
        return self.runtime.role_password(self.ep, user)

    def verifier(self, user: str) -> Secret | None:
        # PgBouncer knows only the control plane's roles (its auth file): no pass-through
        return None if self.pooled else self.runtime.role_verifier(self.ep, user)

    @property
    def read_only(self) -> bool:
        return self.ep.spec.read_only and not self.pooled  # pooled: the pooler's connect_query

    def resolve(self) -> str:
        return self.runtime.wake(self.ep, self.pooled)

    def opened(self) -> None:
        self.runtime.connection_event(self.ep, +1)

    def closed(self) -> None:
        self.runtime.connection_event(self.ep, -1)

    def transferred(self, to_client: int) -> None:
        self.runtime.add_transfer(self.ep, to_client)


class Accounting(Runtime):
    def connection_event(self, ep: EndpointState, delta: int) -> None:
        with self._lock:
            ep.conns = max(0, ep.conns + delta)
            ep.last_activity = time.monotonic()

    def add_transfer(self, ep: EndpointState, nbytes: int) -> None:
        """Data transfer = bytes sent to clients through the proxy (egress, as Neon bills)."""
        br = self.branch(ep.project_id, ep.branch_id)
        with self._lock:
            br.meta.usage.data_transfer_bytes += nbytes
            limit = self._quotas.get(ep.project_id, QuotaPolicy()).data_transfer_bytes
            over = bool(limit) and self._project_total(ep.project_id, "data_transfer_bytes") > limit
            start = over and ep.project_id not in self._exceeded \
                and ep.project_id not in self._enforcing
            if start:
                self._enforcing.add(ep.project_id)
        if start:
            # act off the proxy's event loop: suspending stops processes
            threading.Thread(target=self._enforce_once, args=(ep.project_id,),
                             daemon=True).start()

    def _enforce_once(self, project_id: str) -> None:
        try:
            self.enforce_quota(project_id, sample=False)
        finally:
            with self._lock:
                self._enforcing.discard(project_id)

    def project_branches(self, project_id: str) -> list[BranchState]:
        root = self.layout.project(project_id) / "branches"
        ids = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")} \
            if root.is_dir() else set()
        with self._lock:
            ids |= {b for (p, b) in self._branches if p == project_id}
        return [self.branch(project_id, b) for b in sorted(ids)]

    def _project_total(self, project_id: str, name: str) -> int:
        with self._lock:
            return sum(
                int(getattr(br.meta.usage, name))
                for (p, _), br in self._branches.items() if p == project_id
            )

    def sample_project(self, project_id: str, max_age: float = 1.0) -> None:
        """Refresh WAL/size counters of running clusters sampled more than max_age seconds
        ago (the API renders usage on every read), skipping branches busy in an operation."""
        self.account_all(project_id)
        now = time.monotonic()
        for br in self.project_branches(project_id):
            if not br.running or now - br.sampled_at < max_age:
                continue
            if not br.lock.acquire(timeout=0.5):
                continue
            try:
                if br.running and br.cluster is not None:
                    with contextlib.suppress(Exception):
                        self.sample(br, br.cluster)
                        br.save()
            finally:
                br.lock.release()

    def usage_of(self, project_id: str) -> dict[str, BranchUsage]:
        self.sample_project(project_id)
        with self._lock:
            return {
                br.branch_id: BranchUsage(**vars(br.meta.usage))
                for br in self.project_branches(project_id)
            }

    def enforce_quota(self, project_id: str, *, sample: bool) -> str | None:
        quota = self._quotas.get(project_id)
        if quota is None:
            self._exceeded.pop(project_id, None)
            return None
        if sample:
            self.sample_project(project_id)
        else:
            self.account_all(project_id)
        self.project_branches(project_id)  # load every branch's counters
        exceeded = None
        for name in _SUSPENDING:
            limit = int(getattr(quota, name))
            if limit and self._project_total(project_id, name) > limit:
                exceeded = name
                break
        if exceeded is None:
            self._exceeded.pop(project_id, None)
        else:
            self._exceeded[project_id] = exceeded
            for ep in self.endpoints_of(project_id):
                with contextlib.suppress(Exception):
                    self.deactivate(ep)
        for br in self.project_branches(project_id):
            if br.running and br.lock.acquire(timeout=0.5):
                try:
                    with contextlib.suppress(Exception):
                        self.apply_size_quota(br)
                finally:
                    br.lock.release()
        return exceeded
