"""Background jobs: delete branches past `expires_at`, purge projects past recovery.

Neon deletes expired branches with a background job (CONTRACT.md section 2); here one thread
checks every `expiry_check_seconds` against the emulator clock (movable by /_emulator/clock).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from neon_emulator.engine.clock import parse_ts
from neon_emulator.engine.lifecycle import delete_branch_steps
from neon_emulator.engine.operations import Step
from neon_emulator.runtime import Runtime

log = logging.getLogger("neon_emulator.expiry")
RECOVERY = timedelta(days=7)


class ExpiryJob:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="emulator-expiry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.rt.settings.expiry_check_seconds):
            try:
                self.run_once()
            except Exception:  # keep the job alive; the next round retries
                log.exception("expiry job failed")

    def run_once(self) -> int:
        rt = self.rt
        now = rt.clock.now()
        jobs: list[tuple[str, list[Step]]] = []
        with rt.store.lock:
            w = rt.store.world
            for b in list(w.branches.values()):
                if b.expires_at is None or b.default or parse_ts(b.expires_at) > now:
                    continue
                if any(c.parent_id == b.id for c in w.branches.values()):
                    continue
                if rt.runner.busy(b.project_id):
                    continue
                jobs.append((b.project_id, delete_branch_steps(rt, b)))
            for p in list(w.projects.values()):
                if p.deleted_at and parse_ts(p.deleted_at) + RECOVERY <= now:
                    purge_project(rt, p.id)
        for pid, steps in jobs:
            rt.runner.submit(pid, steps)
        if jobs:
            rt.changed()
        return len(jobs)


def purge_project(rt: Runtime, project_id: str) -> None:
    """Remove a project and everything under it (records now, backend data now)."""
    w = rt.store.world
    w.projects.pop(project_id, None)
    for coll in (w.branches, w.endpoints, w.roles, w.databases, w.operations, w.snapshots,
                 w.transfer_requests, w.neon_auth, w.data_api):
        for key in [k for k, v in coll.items() if v.project_id == project_id]:
            del coll[key]
    try:
        rt.backend.delete_project(project_id)
    except Exception:
        log.exception("backend delete_project failed for %s", project_id)
