"""A one-tenant change costs the same in a 10- or a 500-tenant shard (issue #16).

A whole-shard `up` registers, checks and diffs every resource of every tenant, so its cost
grows with the shard. A single-tenant operation only changes that tenant, so it runs a
program that declares only that tenant (`fleet.program.build_scoped_program`) with
`--target` set to that tenant's URNs, before and after the change (`providers._props.urns`:
exact URNs, so `shop` never matches `shop-branch-eu`). The engine then leaves every other
resource exactly as it is in the state: untargeted resources that the program does not
declare are neither read, diffed nor deleted (pulumi's step generator deletes only targeted
resources). The stack outputs are the one shared thing: the engine replaces them with what
the program exports, so the program exports every other tenant's output again, as read just
before the run under the same shard lock (`tests/automation/test_scoped_up.py` proves the
other tenants' state and outputs unchanged and a full preview clean afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pulumi.automation.errors import CommandError

from neon_tenants.automation import _lean
from neon_tenants.automation._nochange import ROOT_STACK, plain, state_of
from neon_tenants.fleet.program import build_scoped_program
from neon_tenants.providers._props import urns

if TYPE_CHECKING:
    from neon_tenants.automation._workspace import Engine
    from neon_tenants.providers.specs import TenantDatabaseArgs


def current_outputs(engine: Engine, name: str) -> dict[str, Any]:
    """The stack's outputs now ({} for a stack that does not exist yet)."""
    try:
        return engine.outputs(name)
    except CommandError as exc:
        if "no stack named" in str(exc):
            return {}
        raise


def scoped_up(
    engine: Engine,
    name: str,
    scope: Sequence[tuple[str, TenantDatabaseArgs]],
    before: Sequence[TenantDatabaseArgs],
    extras: Mapping[str, dict[str, Any]],
    on_event: Callable[[Any], None] | None = None,
    continue_on_error: bool = False,
) -> dict[str, Any]:
    """`up` of the tenants in `scope` only (their args now; `before`: their args before the
    change, so children that were removed are targeted and deleted). Returns all outputs."""
    project = engine.project
    targets, kept = _targets_and_outputs(engine, name, project, scope, before)
    replaced = frozenset(t for t, _ in scope) | frozenset(a.tenant_id for a in before)
    captured: dict[str, Any] = {}
    program = build_scoped_program(list(scope), {k: (v, True) for k, v in kept.items()},
                                   extras, replaced, captured)

    def outputs_after(_name: str) -> dict[str, Any]:
        """What the run leaves as stack outputs: exactly what the program exported."""
        missing = [t for t, _ in scope if t not in captured]
        if missing:  # pragma: no cover - the SDK resolves every export before `up` returns
            return engine.outputs(name)
        return {**{k: v for k, v in kept.items() if k not in replaced}, **captured}

    def up(stack: _lean.LeanStack) -> Any:
        return stack.up(program=program, target=targets, on_event=on_event, color="never",
                        continue_on_error=continue_on_error)

    result = _lean.run(engine, name, up, outputs_after)
    return {k: v.value for k, v in result.outputs.items()}


def _targets_and_outputs(
    engine: Engine, name: str, project: str,
    scope: Sequence[tuple[str, TenantDatabaseArgs]], before: Sequence[TenantDatabaseArgs],
) -> tuple[list[str], dict[str, Any]]:
    """The URNs the run may touch, and the stack's outputs now. Targets: every URN the
    program declares, and those of `before` that the state holds (the engine refuses a
    target it can neither find nor create: a dev branch whose create failed is declared in
    `before` but never reached the state), and the state's children of those that the
    program no longer declares. ONE `stack export` gives the state and the outputs (its root
    resource carries them; about the cost of `stack output`: bench_scoped_removal)."""
    declared = {u for _, args in scope for u in urns(name, project, args)}
    gone = {u for args in before for u in urns(name, project, args)} - declared
    deployment = state_of(engine, name) or {}
    resources = list(deployment.get("resources") or ())
    in_state = {str(r.get("urn", "")) for r in resources}
    root: dict[str, Any] = next((r for r in resources if r.get("type") == ROOT_STACK), {})
    outputs: dict[str, Any] = plain(dict(root.get("outputs") or {}))
    targets = declared | (gone & in_state)
    # children the state holds under a targeted resource that `before` no longer names (a
    # failed attempt already wrote the change, e.g. a rollout's rotated-out checkpoint
    # snapshot, then its `up` failed on an engine error): the rerun removes them too
    while extra := {str(r.get("urn", "")) for r in resources
                    if str(r.get("parent", "")) in targets} - targets:
        targets |= extra
    return sorted(targets), outputs
