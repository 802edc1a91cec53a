"""`audit(fix=True)` in PostgreSQL mode: the repairs run in workers, one operation per stack.

Reading stays in the caller (`Auditor.audit` takes no lock and writes nothing). A repair
writes: it clears a stack's pending operations, forgets state, clears a lock, or runs an
`up`. Run from the caller, it would race the workers: a worker's live run has pending
operations too, and the caller's `fcntl` shard lock is invisible to other hosts. So each
stack with a fixable finding gets one `repair` operation (its `tenant_id` is
`repair_key(stack)`), queued behind that stack's shard lock, like the stack's runs and
other operations. The worker audits again (the view may have changed since the caller's)
and applies only that stack's safe fixes (`Auditor.repair`); the caller waits for every
repair, raises the first failure, and returns a fresh audit with what the workers fixed.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from neon_tenants.automation._auditor import Auditor
from neon_tenants.automation.audit import AuditReport, Finding
from neon_tenants.fleet.sharding import parse_stack_name

if TYPE_CHECKING:
    from neon_tenants.automation._manager import FleetManager
    from neon_tenants.jobs import ShardQueue

KIND = "repair"


def repair_key(stack: str) -> str:
    """The `tenant_id` of a stack's repair operation (':' is in no tenant id)."""
    return f"repair:{stack}"


def queued_repairs(fm: FleetManager, queue: ShardQueue, timeout: float) -> AuditReport:
    """Audit here, queue one repair per stack with a fixable finding, wait for them all."""
    auditor = Auditor(fm)
    report = auditor.audit()
    stacks = sorted({f.stack for f in report.findings if f.fix is not None and f.stack})
    ops = []
    for stack in stacks:
        ref = parse_stack_name(stack)
        ops.append(queue.submit(KIND, repair_key(stack), ref.tier, ref.shard or 0, stack, {}))
    deadline = time.monotonic() + timeout
    done = [queue.follow(op.id, max(0.0, deadline - time.monotonic())) for op in ops]
    for op in done:
        op.raise_error()
    fixed = [_finding(f) for op in done for f in (op.result or {}).get("fixed", [])]
    if not ops:
        report.fixed = []
        return report
    report = auditor.audit()
    report.fixed = fixed
    return report


def repair_stack(fm: FleetManager, stack: str) -> dict[str, Any]:
    """In the worker (it holds the stack's shard lock): that stack's safe fixes."""
    return {"fixed": [asdict(f) for f in Auditor(fm).repair(stack)]}


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(**{**data, "project_ids": tuple(data.get("project_ids") or ())})
