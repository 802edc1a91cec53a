"""`neon-tenants reshard --tier T --shards N`: move tenants' resources between shard stacks.

Neon is never called: each moving tenant's resources (its component and children, with
their ids and outputs) are copied from the old stack's state into the new one's, URNs
renamed to the new stack; then its row points at the new shard; then it is dropped from
the old stack's state. Afterwards a preview of every shard is clean and every project id is
what it was (issue 11). Each stack is exported and imported once per phase (a state
import is a whole engine command, ~1 s), whatever the number of tenants moved.

Resumable: each phase is idempotent and the order keeps every tenant in at least one stack
(copy, then re-point the rows, then drop). A rerun skips copies already made and finishes
drops left undone. Shard runs hold the tier's lock shared and resharding holds it
exclusive, so no run ever sees a half-moved tier (a run would delete a tenant that its
stack's state holds but its shard's rows no longer list).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neon_tenants.automation._workspace import PROJECT_NAME, Engine
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.fleet.sharding import shard_of, stack_name
from neon_tenants.naming import tenants_in_state

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass
class ReshardReport:
    tier: str
    old_shards: int
    new_shards: int
    moved: list[str] = field(default_factory=list)
    dropped_leftovers: list[str] = field(default_factory=list)


class _States:
    """Exported deployments of the tier's stacks, imported back only when changed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loaded: dict[str, tuple[Any, dict[str, Any]]] = {}
        self.dirty: set[str] = set()

    def get(self, name: str) -> dict[str, Any]:
        if name not in self._loaded:
            self.engine.stack(name)  # created when new: empty state, its own secrets salt
            state = self.engine.workspace.export_stack(name)
            self._loaded[name] = (state.version, dict(state.deployment or {}))
        return self._loaded[name][1]

    def save(self) -> None:
        from pulumi.automation import Deployment

        for name in sorted(self.dirty):
            version, deployment = self._loaded[name]
            self.engine.workspace.import_stack(
                name, Deployment(version=version, deployment=deployment)
            )
        self.dirty.clear()


def _resources(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment.get("resources") or [])


def _owned(deployment: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    """The tenant's resources (ownership from `parent`, never parsed from names)."""
    owners = tenants_in_state(_resources(deployment))
    return [r for r in _resources(deployment) if owners.get(str(r.get("urn", ""))) == tenant]


def _tenants(deployment: dict[str, Any]) -> set[str]:
    return set(tenants_in_state(_resources(deployment)).values())


def copy_tenant(a: dict[str, Any], b: dict[str, Any], tenant: str, src: str, dst: str) -> bool:
    """Copy the tenant's resources and stack output from deployment `a` (stack `src`) into
    `b` (stack `dst`), in place. False when `a` holds nothing of the tenant. Provider
    references are re-pointed at `b`'s provider of the same name (copied from `a` if
    `b` has none yet)."""
    moving = _owned(a, tenant)
    if not moving:
        return False

    def rename(value: Any) -> Any:
        text = json.dumps(value)
        text = text.replace(f"urn:pulumi:{src}::", f"urn:pulumi:{dst}::")
        text = text.replace(f'{STACK_TYPE}::{PROJECT_NAME}-{src}"',
                            f'{STACK_TYPE}::{PROJECT_NAME}-{dst}"')
        return json.loads(text)

    b_res = _resources(b)
    have = {str(r["urn"]): r for r in b_res}
    moved = [rename(r) for r in moving]
    if all(r["urn"] in have for r in moved):
        return True  # copied by an earlier, interrupted reshard
    a_by_urn = {str(r["urn"]): r for r in _resources(a)}
    root_a = next(r for r in _resources(a) if r.get("type") == STACK_TYPE)
    root_b = next((r for r in b_res if r.get("type") == STACK_TYPE), None)
    if root_b is None:
        root_b = {**rename(root_a), "outputs": {}}
        b_res.insert(0, root_b)
    added_providers: list[dict[str, Any]] = []
    for res in moved:
        ref = res.get("provider")
        if not ref:
            continue
        urn, _, _old_id = str(ref).rpartition("::")
        target = have.get(urn)
        if target is None:
            source_urn = urn.replace(f"urn:pulumi:{dst}::", f"urn:pulumi:{src}::", 1)
            target = rename(a_by_urn[source_urn])
            have[urn] = target
            added_providers.append(target)
        res["provider"] = f"{urn}::{target['id']}"
    b_res[1:1] = added_providers  # providers right after the root, before their users
    output = (root_a.get("outputs") or {}).get(tenant)
    if output is not None:
        root_b["outputs"] = {**(root_b.get("outputs") or {}), tenant: output}
    known = {str(r["urn"]) for r in b_res}
    b_res.extend(r for r in moved if r["urn"] not in known)
    b["resources"] = b_res
    return True


def drop_tenant(a: dict[str, Any], tenant: str) -> bool:
    """Remove the tenant's resources and stack output from deployment `a`, in place."""
    before = _resources(a)
    owned = {str(r.get("urn", "")) for r in _owned(a, tenant)}
    kept = [r for r in before if str(r.get("urn", "")) not in owned]
    changed = len(kept) != len(before)
    for res in kept:
        outputs = res.get("outputs") or {}
        if res.get("type") == STACK_TYPE and tenant in outputs:
            res["outputs"] = {k: v for k, v in outputs.items() if k != tenant}
            changed = True
    a["resources"] = kept
    return changed


def reshard(
    store: PostgresFleetStore,
    engine: Engine,
    tier: str,
    shards: int,
    *,
    on_step: Callable[[str], None] | None = None,
) -> ReshardReport:
    """Move every tenant of `tier` to `shard_of(id, shards)`; safe to rerun after a crash."""
    if store.fleet_shape(tier) is None:
        raise LookupError(f"tier {tier!r} has no fleet in the database")
    if not 2 <= shards <= 99:
        raise ValueError(f"shards must be 2..99 for tier {tier!r} (got {shards})")
    say = on_step or (lambda _msg: None)
    with store.tier_lock(tier, exclusive=True):
        old = store.fleet_shape(tier)
        assert old is not None
        if old[0] < 2:
            raise ValueError(
                f"tier {tier!r} has 1 shard (stack {tier!r}); resharding starts from 2+ shards"
            )
        report = ReshardReport(tier, old[0], shards)
        store.set_shards(tier, shards)
        moves = {
            t: (cur, shard_of(t, shards))
            for t, cur in sorted(store.placements(tier).items())
            if cur != shard_of(t, shards)
        }
        states = _States(engine)
        had_state: list[tuple[str, str]] = []
        for tenant, (cur, new) in moves.items():  # 1. copy into the new stacks
            src, dst = stack_name(tier, cur, 99), stack_name(tier, new, 99)
            say(f"{tenant}: {src} -> {dst}")
            if copy_tenant(states.get(src), states.get(dst), tenant, src, dst):
                states.dirty.add(dst)
                had_state.append((tenant, src))
        states.save()
        for tenant, (_cur, new) in moves.items():  # 2. the rows follow
            store.set_shard(tier, tenant, new)
        for tenant, src in had_state:  # 3. drop from the old stacks
            if drop_tenant(states.get(src), tenant):
                states.dirty.add(src)
        states.save()
        report.moved = list(moves)
        report.dropped_leftovers = _drop_leftovers(store, engine, tier)
    return report


def _drop_leftovers(store: PostgresFleetStore, engine: Engine, tier: str) -> list[str]:
    """Tenants still in a stack that is no longer theirs (a rerun after a crash between
    re-pointing the rows and dropping the copies): drop them there, only when their own
    stack holds them."""
    placements = store.placements(tier)
    states = _States(engine)
    names = [s for s in engine.stack_names() if s.startswith(f"{tier}-")]
    held = {name: _tenants(states.get(name)) for name in names}
    dropped: list[str] = []
    for name in names:
        for tenant in sorted(held[name]):
            home = placements.get(tenant)
            own = stack_name(tier, home, 99) if home is not None else name
            if own != name and tenant in held.get(own, set()):
                drop_tenant(states.get(name), tenant)
                states.dirty.add(name)
                dropped.append(f"{tenant}@{name}")
    states.save()
    return dropped
