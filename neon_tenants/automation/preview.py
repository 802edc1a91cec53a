"""Fleet-level preview for CI: engine preview events grouped per tenant, as markdown or JSON.

Built from `stack.preview(on_event=...)` ResourcePreEvents (op, urn, parent, diffs, old/new
inputs), so what a pull-request comment says is what the engine will do. Each step's tenant
is its parent component's name (naming.tenant_of), never parsed from a resource name.

A tenant removed from one tier's stack and added to another's is a move of the SAME project
only when the addition adopts the removed project (`adopt_project_id`, what an in-place
transfer through `FleetManager.upgrade/downgrade` writes). Any other remove-plus-add creates
a new, empty project and deletes the old one with its data: it is reported as a data-losing
replacement and listed first (issue 10 item 4), like every other replace.
Exit codes: 0 no changes, 2 changes, 1 error (`EXIT_*`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from neon_tenants.automation.events import step_parent
from neon_tenants.migrate import MIGRATE_SUFFIX
from neon_tenants.naming import (
    PROJECT_TYPE,
    child_label,
    is_component,
    resource_type,
    tenant_of,
    urn_parts,
)

EXIT_NO_CHANGES = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2

_REPLACE_OPS = {"replace", "create-replacement", "delete-replaced"}
_QUIET_OPS = {"same", "read", "refresh", "discard", "discard-replaced"}
_MASK = "[secret]"


@dataclass(frozen=True)
class PlannedStep:
    """The part of a ResourcePreEvent the fleet diff needs (recordable as plain data)."""

    stack: str
    tier: str
    urn: str
    op: str
    diffs: tuple[str, ...] = ()
    old_inputs: dict[str, Any] = field(default_factory=dict)
    new_inputs: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    old_outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldChange:
    resource: str
    key: str
    old: Any
    new: Any


@dataclass
class TenantDiff:
    tenant: str
    stack: str
    tier: str
    kind: Literal["added", "removed", "updated"]
    replaces: list[str] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)
    project_id: str | None = None  # the existing project (removed/updated tenants)
    adopts: str | None = None  # the project an added tenant adopts


@dataclass
class TenantMove:
    """A tenant leaving one tier's stack for another's. `same_project`: an in-place
    transfer; otherwise a new empty project replaces the old one, whose data is deleted."""

    tenant: str
    from_tier: str
    to_tier: str
    from_stack: str
    to_stack: str
    same_project: bool = True


@dataclass(frozen=True)
class PlannedMigration:
    """A tenant whose migration Command would run (issue 12): from one app revision to the
    next (`from_revision` None: the tenant's first revision)."""

    tenant: str
    stack: str
    tier: str
    from_revision: str | None
    to_revision: str


@dataclass
class FleetDiff:
    stacks: list[str]
    tenants: list[TenantDiff]
    moves: list[TenantMove]
    migrations: list[PlannedMigration] = field(default_factory=list)

    @property
    def transfers(self) -> list[TenantMove]:
        return [m for m in self.moves if m.same_project]

    @property
    def data_losing(self) -> list[TenantMove]:
        return [m for m in self.moves if not m.same_project]

    @property
    def has_changes(self) -> bool:
        return bool(self.tenants or self.moves)

    @property
    def exit_code(self) -> int:
        return EXIT_CHANGES if self.has_changes else EXIT_NO_CHANGES

    def of_kind(self, kind: str) -> list[TenantDiff]:
        return [t for t in self.tenants if t.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "stacks": self.stacks,
            "has_changes": self.has_changes,
            "added": [_diff_json(t) for t in self.of_kind("added")],
            "removed": [_diff_json(t) for t in self.of_kind("removed")],
            "updated": [_diff_json(t) for t in self.of_kind("updated")],
            "moved": [asdict(m) for m in self.transfers],
            "replaced_across_tiers": [asdict(m) for m in self.data_losing],
            "migrations": [asdict(m) for m in self.migrations],
            "replaces": [
                {"tenant": t.tenant, "stack": t.stack, "resources": t.replaces}
                for t in self.tenants
                if t.replaces
            ]
            + [
                {"tenant": m.tenant, "stack": m.to_stack, "resources": ["project"],
                 "data_loss": True}
                for m in self.data_losing
            ],
        }

    def to_markdown(self) -> str:
        return render_markdown(self)


def _diff_json(t: TenantDiff) -> dict[str, Any]:
    return {
        "tenant": t.tenant,
        "stack": t.stack,
        "tier": t.tier,
        "replaces": t.replaces,
        "changes": [asdict(c) for c in t.changes],
    }


def step_from_event(stack: str, tier: str, event: Any) -> PlannedStep | None:
    """A pulumi.automation EngineEvent -> PlannedStep (only ResourcePreEvents count)."""
    pre = getattr(event, "resource_pre_event", None)
    if pre is None:
        return None
    meta = pre.metadata
    old = meta.old.inputs if meta.old is not None and meta.old.inputs else {}
    new = meta.new.inputs if meta.new is not None and meta.new.inputs else {}
    old_out = meta.old.outputs if meta.old is not None and meta.old.outputs else {}
    return PlannedStep(
        stack=stack,
        tier=tier,
        urn=meta.urn,
        op=getattr(meta.op, "value", str(meta.op)),
        diffs=tuple(meta.diffs or ()),
        old_inputs=dict(old),
        new_inputs=dict(new),
        parent=step_parent(meta),
        old_outputs=dict(old_out),
    )


def _leaf_changes(resource: str, key: str, old: Any, new: Any) -> list[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[FieldChange] = []
        for sub in sorted(set(old) | set(new)):
            out.extend(_leaf_changes(resource, f"{key}.{sub}", old.get(sub), new.get(sub)))
        return out
    if old == new:
        return []
    return [FieldChange(resource, key, _safe(old), _safe(new))]


def _safe(value: Any) -> Any:
    """Secrets arrive as {'4dabf18193072939515e22adb298388d': ...} or masked strings."""
    if isinstance(value, dict) and "4dabf18193072939515e22adb298388d" in value:
        return _MASK
    if isinstance(value, str) and "://" in value and "@" in value:
        return _MASK
    return value


def tenant_diffs(steps: Iterable[PlannedStep]) -> list[TenantDiff]:
    by_tenant: dict[tuple[str, str], TenantDiff] = {}
    for step in steps:
        tenant = tenant_of(step.urn, step.parent)
        if tenant is None or step.op in _QUIET_OPS:
            continue
        key = (step.stack, tenant)
        diff = by_tenant.setdefault(key, TenantDiff(tenant, step.stack, step.tier, "updated"))
        if is_component(step.urn):
            if step.op == "create":
                diff.kind = "added"
            elif step.op == "delete":
                diff.kind = "removed"
            continue
        if resource_type(step.urn) == PROJECT_TYPE:
            pid = step.old_outputs.get("project_id") or step.old_inputs.get("adopt_project_id")
            diff.project_id = diff.project_id or (str(pid) if pid else None)
            adopts = step.new_inputs.get("adopt_project_id")
            diff.adopts = str(adopts) if adopts else diff.adopts
        resource = child_label(tenant, urn_parts(step.urn)[1])
        # a migration Command is replaced on every new revision: listed as a migration
        migrating = resource == MIGRATE_SUFFIX.lstrip("-")
        if step.op in _REPLACE_OPS and resource not in diff.replaces and not migrating:
            diff.replaces.append(resource)
        if step.op in ("update", "replace", "create-replacement"):
            for k in step.diffs or tuple(set(step.old_inputs) | set(step.new_inputs)):
                if k.startswith("__"):
                    continue
                diff.changes.extend(
                    _leaf_changes(resource, k, step.old_inputs.get(k), step.new_inputs.get(k))
                )
    return sorted(by_tenant.values(), key=lambda d: (d.tenant, d.stack))


def fleet_diff(stacks: list[str], steps: Iterable[PlannedStep]) -> FleetDiff:
    """Group per tenant and pair a removal in one tier with an addition in another."""
    diffs = tenant_diffs(steps)
    removed = {d.tenant: d for d in diffs if d.kind == "removed"}
    moves: list[TenantMove] = []
    kept: list[TenantDiff] = []
    paired: set[str] = set()
    for d in diffs:
        src = removed.get(d.tenant)
        if d.kind == "added" and src is not None and src.tier != d.tier:
            same = bool(d.adopts) and d.adopts == src.project_id
            moves.append(TenantMove(d.tenant, src.tier, d.tier, src.stack, d.stack, same))
            paired.add(d.tenant)
    for d in diffs:
        if d.tenant in paired and d.kind in ("added", "removed"):
            continue
        kept.append(d)
    return FleetDiff(sorted(stacks), kept, moves, planned_migrations(steps))


def planned_migrations(steps: Iterable[PlannedStep]) -> list[PlannedMigration]:
    """Migration Commands the engine would create or replace, with the revisions (their only
    trigger) before and after."""
    found: dict[tuple[str, str], PlannedMigration] = {}
    for step in steps:
        _, name = urn_parts(step.urn)
        tenant = tenant_of(step.urn, step.parent)
        if tenant is None or name != f"{tenant}{MIGRATE_SUFFIX}":
            continue
        if step.op not in ("create", "replace", "create-replacement"):
            continue
        new = _revision(step.new_inputs)
        if new is None:
            continue
        old = _revision(step.old_inputs)
        found[(step.stack, tenant)] = PlannedMigration(tenant, step.stack, step.tier, old, new)
    return sorted(found.values(), key=lambda m: (m.tenant, m.stack))


def _revision(inputs: dict[str, Any]) -> str | None:
    triggers = inputs.get("triggers")
    if isinstance(triggers, list) and triggers and isinstance(triggers[0], str):
        return triggers[0]
    return None


def _fmt(value: Any) -> str:
    return "–" if value is None else f"`{value}`"


def _details(d: TenantDiff) -> str:
    parts = [f"{c.resource}.{c.key}: {_fmt(c.old)} → {_fmt(c.new)}" for c in d.changes]
    return "; ".join(parts)


def render_markdown(diff: FleetDiff) -> str:
    """A pull-request comment: headline counts, replacements first, then one row per tenant."""
    stacks = ", ".join(f"`{s}`" for s in diff.stacks)
    if not diff.has_changes:
        return f"### Fleet preview: no changes\n\nStacks previewed: {stacks}\n"
    added, removed, updated = (diff.of_kind(k) for k in ("added", "removed", "updated"))
    lines = [
        "### Fleet preview",
        "",
        f"**{len(added)} added, {len(removed)} removed, {len(diff.transfers)} moved, "
        f"{len(diff.data_losing)} replaced across tiers, {len(updated)} updated** "
        f"(stacks: {stacks})",
        "",
    ]
    replaced = [d for d in diff.tenants if d.replaces]
    if replaced or diff.data_losing:
        lines.append("> [!WARNING]")
        lines.append("> **Replacements** (the resource is deleted and created again):")
        for m in diff.data_losing:
            lines.append(
                f"> - `{m.tenant}` (`{m.from_stack}` → `{m.to_stack}`): project: a NEW EMPTY "
                "project is created and the old one is deleted with its data (no transfer: "
                "use `tenant upgrade/downgrade`)"
            )
        for d in replaced:
            lines.append(f"> - `{d.tenant}` (`{d.stack}`): {', '.join(d.replaces)}")
        lines.append("")
    if diff.migrations:
        lines.append("**Migrations** (run once per tenant, app revision from → to):")
        for mig in diff.migrations:
            lines.append(
                f"- `{mig.tenant}` ({mig.tier}, `{mig.stack}`): {_fmt(mig.from_revision)} → "
                f"{_fmt(mig.to_revision)}"
            )
        lines.append("")
    lines += ["| change | tenant | tier | stack | details |", "| --- | --- | --- | --- | --- |"]
    for m in diff.data_losing:
        lines.append(
            f"| **replaced (data loss)** | `{m.tenant}` | {m.from_tier} → {m.to_tier} | "
            f"`{m.from_stack}` → `{m.to_stack}` | new empty project; old project deleted |"
        )
    for d in added:
        lines.append(f"| added | `{d.tenant}` | {d.tier} | `{d.stack}` | {_details(d)} |")
    for d in removed:
        lines.append(f"| **removed** | `{d.tenant}` | {d.tier} | `{d.stack}` | project deleted |")
    for m in diff.transfers:
        lines.append(
            f"| moved | `{m.tenant}` | {m.from_tier} → {m.to_tier} | "
            f"`{m.from_stack}` → `{m.to_stack}` | same project (transfer, then quotas) |"
        )
    for d in updated:
        label = "**replaced**" if d.replaces else "updated"
        lines.append(f"| {label} | `{d.tenant}` | {d.tier} | `{d.stack}` | {_details(d)} |")
    return "\n".join(lines) + "\n"


def dumps(diff: FleetDiff) -> str:
    return json.dumps(diff.to_json(), indent=2, sort_keys=True, default=str)
