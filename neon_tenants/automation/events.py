"""Typed progress events FleetManager emits through the caller's callback.

Nothing prints: the CLI renders these as progress bars, a backend can forward them (SSE,
logs). Engine events are reduced to one per resource step so callers need not know the
engine's event schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

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

COMPONENT_TYPE = "neon-tenants:index:TenantDatabase"
_CHILD_SUFFIX = re.compile(
    r"^(?P<tenant>.+?)-(?:project|quota|archive|migrate|branch-.+|snapshot-.+)$"
)


def urn_parts(urn: str) -> tuple[str, str]:
    """(qualified type, name) of a URN `urn:pulumi:stack::project::type::name`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "", urn
    return parts[2], "::".join(parts[3:])


def tenant_of_urn(urn: str) -> str | None:
    """The tenant a resource belongs to: its component's name (ARCHITECTURE naming)."""
    qualified, name = urn_parts(urn)
    types = qualified.split("$")
    if types[-1] == COMPONENT_TYPE:
        return name
    if COMPONENT_TYPE in types:
        match = _CHILD_SUFFIX.match(name)
        return match.group("tenant") if match else None
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
    return ResourceStep(stack, tenant_of_urn(meta.urn), meta.urn, meta.type, op, state)
