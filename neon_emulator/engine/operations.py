"""Asynchronous operations: records now, backend work later in worker threads.

As on Neon, a mutation answers at once with `operations[]` (CONTRACT.md section 0); the
operations run in order per project, each taking `op_duration_ms` plus the backend call. While
a project has unfinished operations, conflicting mutations get 423 ("locked"), which the spec
calls always safe to retry. A backend ComputeError turns the operation into `error`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from neon_emulator.compute.backend import ComputeError
from neon_emulator.engine import ids
from neon_emulator.engine.clock import Clock, iso
from neon_emulator.errors import locked
from neon_emulator.store.records import OperationRecord
from neon_emulator.store.state import Store

log = logging.getLogger("neon_emulator.operations")


@dataclass
class Step:
    op: OperationRecord
    work: Callable[[], None] | None = None  # backend call, outside the store lock
    done: Callable[[], None] | None = None  # state change on success, under the lock
    failed: Callable[[str], None] | None = None  # state change on failure, under the lock


class OperationRunner:
    def __init__(
        self, store: Store, clock: Clock, *, duration_ms: int, workers: int,
        on_change: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.duration = max(duration_ms, 0) / 1000.0
        self._pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="op")
        self._on_change = on_change
        self._active: dict[str, int] = {}
        self._project_locks: dict[str, threading.Lock] = {}
        self._meta = threading.Lock()
        self._stopping = threading.Event()
        self.lock_windows: dict[str, float] = {}  # project id or "*" -> monotonic deadline

    # -- creating -----------------------------------------------------------------------
    def new_op(
        self, project_id: str, action: str, *, branch_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> OperationRecord:
        now = iso(self.clock.now())
        world = self.store.world
        world.next_op_seq += 1
        op = OperationRecord(
            id=ids.uuid4(), project_id=project_id, branch_id=branch_id,
            endpoint_id=endpoint_id, action=action, status="scheduling",
            created_at=now, updated_at=now, seq=world.next_op_seq,
        )
        world.operations[op.id] = op
        return op

    def submit(self, project_id: str, steps: list[Step]) -> None:
        if not steps:
            return
        with self._meta:
            self._active[project_id] = self._active.get(project_id, 0) + 1
            plock = self._project_locks.setdefault(project_id, threading.Lock())
        self._pool.submit(self._run, project_id, steps, plock)

    # -- locking ------------------------------------------------------------------------
    def busy(self, project_id: str) -> bool:
        with self._meta:
            return self._active.get(project_id, 0) > 0

    def ensure_unlocked(self, project_id: str) -> None:
        now = time.monotonic()
        for key in (project_id, "*"):
            until = self.lock_windows.get(key)
            if until is not None and until > now:
                raise locked("project is locked (maintenance window)")
        if self.busy(project_id):
            raise locked()

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until no operation runs (reset, shutdown, tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._meta:
                if not any(self._active.values()):
                    return True
            time.sleep(0.01)
        return False

    def shutdown(self) -> None:
        """Stop waiting out op durations; queued work still runs so states stay consistent."""
        self._stopping.set()
        self._pool.shutdown(wait=True)

    # -- running ------------------------------------------------------------------------
    def _run(self, project_id: str, steps: list[Step], plock: threading.Lock) -> None:
        try:
            with plock:
                self._run_steps(steps)
        finally:
            with self._meta:
                self._active[project_id] = self._active.get(project_id, 1) - 1
                if self._active[project_id] <= 0:
                    self._active.pop(project_id, None)
            self._on_change()

    def _run_steps(self, steps: list[Step]) -> None:
        for i, step in enumerate(steps):
            started = time.monotonic()
            with self.store.lock:
                step.op.status = "running"
                step.op.updated_at = iso(self.clock.now())
            if self.duration:
                self._stopping.wait(self.duration)
            error: str | None = None
            try:
                if step.work is not None:
                    step.work()
            except ComputeError as exc:
                error = str(exc) or "compute error"
            except Exception as exc:  # a backend bug must not wedge the project
                log.exception("operation %s failed", step.op.id)
                error = f"internal error: {type(exc).__name__}"
            with self.store.lock:
                op = step.op
                op.updated_at = iso(self.clock.now())
                op.total_duration_ms = int((time.monotonic() - started) * 1000)
                if error is None:
                    if step.done is not None:
                        step.done()
                    op.status = "finished"
                else:
                    op.status = "error"
                    op.error = error
                    op.failures_count += 1
                    if step.failed is not None:
                        step.failed(error)
                    for rest in steps[i + 1:]:
                        rest.op.status = "error"
                        rest.op.error = f"not run: operation {op.id} failed"
                        rest.op.updated_at = op.updated_at
                        if rest.failed is not None:
                            rest.failed(error)
            self._on_change()
            if error is not None:
                return
