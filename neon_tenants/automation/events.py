"""Typed progress events FleetManager emits through the caller's callback.

Nothing prints: the CLI renders these as progress bars, a backend can forward them (SSE,
logs). Engine events are reduced to one per resource step so callers need not know the
engine's event schema. A step's tenant comes from its parent component (naming.tenant_of),
never from its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from neon_tenants.automation._errors import scrub
from neon_tenants.naming import tenant_of

Phase = Literal[
    "locked",
    "fleet_written",
    "engine_started",
    "engine_done",
    "imperative",
    "retry",
    "stale_lock_cleared",
]
StepState = Literal["started", "done", "failed"]


@dataclass(frozen=True)
class StackProgress:
    """A phase of the work on one stack (lock taken, fleet written, engine run...)."""

    stack: str
    phase: Phase
    message: str = ""


@dataclass(frozen=True)
class ResourceStep:
    """One resource step reported by the engine during up/preview/destroy."""

    stack: str
    tenant: str | None
    urn: str
    type: str
    op: str
    state: StepState


ProgressEvent = StackProgress | ResourceStep
ProgressCallback = Callable[[ProgressEvent], None]


def step_parent(meta: Any) -> str | None:
    """The parent URN the engine reports for a step (new state first, else the old one)."""
    for side in (getattr(meta, "new", None), getattr(meta, "old", None)):
        parent = getattr(side, "parent", None) if side is not None else None
        if parent:
            return str(parent)
    return None


def from_engine_event(stack: str, event: Any) -> ResourceStep | None:
    """Reduce a pulumi.automation EngineEvent to a ResourceStep (None if not a step)."""
    state: StepState
    if event.resource_pre_event is not None:
        meta, state = event.resource_pre_event.metadata, "started"
    elif event.res_outputs_event is not None:
        meta, state = event.res_outputs_event.metadata, "done"
    elif event.res_op_failed_event is not None:
        meta, state = event.res_op_failed_event.metadata, "failed"
    else:
        return None
    op = getattr(meta.op, "value", str(meta.op))
    tenant = tenant_of(meta.urn, step_parent(meta))
    return ResourceStep(stack, tenant, meta.urn, meta.type, op, state)


class TenantFailures:
    """An engine-event callback that blames failed resource steps on their tenants.

    A resource's tenant comes from its step's parent component (`naming.tenant_of`): the
    owner of each URN is learnt from its pre-event, then an error diagnostic or a failed
    operation on that URN marks the tenant failed with the engine's message, passwords
    masked first, then its last 500 characters (the provider's own reason is at the end).
    Used by runs with `continue_on_error`, where one tenant's failure does not stop the
    others of its stack (the worker's shard run, the rollout's migrate wave)."""

    def __init__(self) -> None:
        self.failed: dict[str, str] = {}
        self._owner: dict[str, str] = {}

    def __call__(self, event: Any) -> None:
        pre = getattr(event, "resource_pre_event", None)
        if pre is not None:
            found = tenant_of(pre.metadata.urn, step_parent(pre.metadata))
            if found is not None:
                self._owner[pre.metadata.urn] = found
        diag = getattr(event, "diagnostic_event", None)
        if diag is not None and diag.severity == "error" and diag.urn:
            tenant = self._owner.get(diag.urn) or tenant_of(diag.urn, None)
            if tenant is not None:
                self.failed.setdefault(tenant, scrub(diag.message.strip())[-500:])
        op = getattr(event, "res_op_failed_event", None)
        if op is not None:
            meta = op.metadata
            tenant = self._owner.get(meta.urn) or tenant_of(meta.urn, step_parent(meta))
            if tenant is not None:
                self.failed.setdefault(tenant, f"{meta.type} {meta.op} failed")
