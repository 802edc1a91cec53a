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


def _tier_stacks(engine: Engine, tier: str) -> list[str]:
    """The tier's stacks in the backend: `<tier>` (1 shard) and `<tier>-NN`."""
    from neon_tenants.fleet.sharding import parse_stack_name

    out: list[str] = []
    for name in engine.stack_names():
        try:
            if parse_stack_name(name).tier == tier:
                out.append(name)
        except ValueError:
            continue
    return sorted(out)


def reshard(
    store: PostgresFleetStore,
    engine: Engine,
    tier: str,
    shards: int,
    *,
    on_step: Callable[[str], None] | None = None,
) -> ReshardReport:
    """Move every tenant of `tier` to its stack for `shards` (`<tier>` for 1, else
    `<tier>-NN` with `shard_of(id, shards)`); safe to rerun after a crash.

    Where a tenant is now is read from the stacks' state, not from its row or the old shard
    count (a crashed reshard may have changed both): every stack of the tier that holds the
    tenant and is not its new stack is a source. So 1 -> N and N -> 1 (whose stack names
    differ: `free` vs `free-00`) resume like N -> M.
    """
    if store.fleet_shape(tier) is None:
        raise LookupError(f"tier {tier!r} has no fleet in the database")
    if not 1 <= shards <= 99:
        raise ValueError(f"shards must be 1..99 for tier {tier!r} (got {shards})")
    say = on_step or (lambda _msg: None)
    with store.tier_lock(tier, exclusive=True):
        old = store.fleet_shape(tier)
        assert old is not None
        report = ReshardReport(tier, old[0], shards)
        store.set_shards(tier, shards)
        placements = store.placements(tier)
        states = _States(engine)
        names = _tier_stacks(engine, tier)
        held = {name: _tenants(states.get(name)) for name in names}
        moves: dict[str, tuple[int, str, list[str]]] = {}
        for tenant, cur in sorted(placements.items()):
            new = shard_of(tenant, shards)
            dst = stack_name(tier, new, shards)
            sources = [n for n in names if n != dst and tenant in held[n]]
            if cur != new or sources:
                moves[tenant] = (new, dst, sources)
        copied_from: dict[str, str] = {}
        for tenant, (_new, dst, sources) in moves.items():  # 1. copy into the new stacks
            if not sources or tenant in held.get(dst, set()):
                continue  # nothing deployed yet, or copied by an interrupted run
            say(f"{tenant}: {sources[0]} -> {dst}")
            if copy_tenant(states.get(sources[0]), states.get(dst), tenant, sources[0], dst):
                states.dirty.add(dst)
                copied_from[tenant] = sources[0]
        states.save()
        for tenant, (new, _dst, _sources) in moves.items():  # 2. the rows follow
            if placements[tenant] != new:
                store.set_shard(tier, tenant, new)
        for tenant, (_new, _dst, sources) in moves.items():  # 3. drop from the old stacks
            for src in sources:
                if drop_tenant(states.get(src), tenant):
                    states.dirty.add(src)
                    if copied_from.get(tenant) != src:  # left by an interrupted reshard
                        report.dropped_leftovers.append(f"{tenant}@{src}")
        states.save()
        report.moved = list(moves)
        _remove_emptied(engine, states, tier, shards, names)
    return report


def _remove_emptied(
    engine: Engine, states: _States, tier: str, shards: int, names: list[str]
) -> None:
    """Remove the stacks the new shard count no longer uses once they hold no tenant (state
    records only; `free` after 1 -> N, `free-NN` after N -> 1 or fewer shards)."""
    wanted = {stack_name(tier, s, shards) for s in range(shards)}
    for name in names:
        if name not in wanted and not _tenants(states.get(name)):
            engine.workspace.remove_stack(name, force=True, preserve_config=True)
