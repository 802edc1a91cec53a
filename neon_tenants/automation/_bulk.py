"""Moving many tenants to another tier in one call (issue 10 item 10).

Neon transfers up to 400 projects per request (`POST /organizations/{source}/projects/
transfer`, CONTRACT.md section 1). Every tenant is validated against the target tier and,
for a downgrade, its usage checked BEFORE any change; then each batch of <= 400 projects is
transferred in ONE request and recorded at once (target fleet entry adopting the project,
source state forgotten, source entry removed), so a refused or interrupted batch leaves the
earlier batches consistent and a rerun finishes the rest. 406 (limits not met) and 422
(integrations) are mapped to errors naming the projects and their tenants. The target shards
are `up`-ed once each at the end (`apply=False` leaves that to the caller, e.g. a worker).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from neon_tenants.automation import _usage
from neon_tenants.automation._errors import (
    InvalidRequest,
    LimitsExceeded,
    TenantConflict,
    TransferBlocked,
)
from neon_tenants.automation._locks import shard_locks
from neon_tenants.automation._runner import guard
from neon_tenants.automation._store import Placement
from neon_tenants.automation.events import StackProgress
from neon_tenants.tenant import TenantSpec

if TYPE_CHECKING:
    from neon_tenants.automation._core import FleetCore
    from neon_tenants.automation.models import TenantConnection
    from neon_tenants.catalog import Tier
    from neon_tenants.client import OrgClient
    from neon_tenants.client.models.projects import Project


@dataclass
class BulkMove:
    """What a bulk move did: tenants moved, transfer requests sent, target stacks run."""

    tier: str
    moved: list[str] = field(default_factory=list)
    transfer_requests: int = 0
    stacks: list[str] = field(default_factory=list)
    connections: dict[str, TenantConnection] = field(default_factory=dict)


@dataclass
class _Item:
    tenant: str
    src: Placement
    spec: TenantSpec
    dst: Placement
    project_id: str = ""


def plan_moves(
    fm: FleetCore, tenants: list[str], to_tier: str, *, downgrade: bool
) -> list[_Item]:
    """Every rule of a bulk move that needs no Neon call (InvalidRequest, 422, naming the
    tenants); tenants already in `to_tier` are left out (a rerun skips what it moved)."""
    target = fm._tier(to_tier)
    # every fleet read once (a per-tenant lookup would re-read every fleet per tenant)
    with guard():
        fleets = {t: fm.store.load(t) for t in fm.store.tiers() if t in fm.catalog.tiers}
    dst_fleet = fleets.get(to_tier) or fm.fleet(to_tier)
    items: list[_Item] = []
    problems: list[str] = []
    for tenant in dict.fromkeys(tenants):
        listed = [(f, s) for f in fleets.values() if (s := f.get(tenant)) is not None]
        sources = [(f, s) for f, s in listed if f.tier != to_tier]
        if not sources:
            if not listed:
                problems.append(f"{tenant}: in no fleet")
            continue  # already in the target tier: nothing to do
        fleet, spec = sources[0]
        src = Placement.of(fleet.tier, fleet.shards, tenant, fleet.platform)
        moved = fm._build(to_tier, partial(
            spec.model_copy, update={"quota_overrides": {}, "compute_overrides": {}}))
        fm._validate(moved, to_tier)
        if not downgrade:
            lowered = _usage.lowered_limits(fm._tier(src.tier), target)
            if lowered:
                problems.append(f"{tenant}: {to_tier} is smaller than {src.tier} "
                                f"({'; '.join(lowered)}); use downgrade")
        dst = Placement.of(to_tier, dst_fleet.shards, tenant, dst_fleet.platform)
        # listed in the target too: a move stopped after its source state was forgotten;
        # the target entry names the project (the source stack's outputs no longer do)
        arrived = next((s for f, s in listed if f.tier == to_tier), None)
        items.append(_Item(tenant, src, moved, dst,
                           (arrived.adopt_project_id or "") if arrived else ""))
    if problems:
        raise InvalidRequest("tenants: " + "; ".join(problems), tier=to_tier, field="tenants")
    return items


def find_projects(fm: FleetCore, items: list[_Item]) -> None:
    """Each item's project id: adopted, else its source stack's outputs (read once per
    stack); TenantConflict (409) for a tenant whose project does not exist yet."""
    need = {i.src.stack for i in items if not (i.project_id or i.spec.adopt_project_id)}
    outputs = {s: fm.runner.outputs(s) for s in sorted(need)}
    for item in items:
        pid = item.project_id or item.spec.adopt_project_id or (
            outputs.get(item.src.stack, {}).get(item.tenant) or {}).get("project_id")
        if not pid:
            raise TenantConflict(f"tenant {item.tenant!r} has no project yet: run `up` on "
                                 f"{item.src.stack} first", tenant=item.tenant)
        item.project_id = str(pid)


def check_downgrade(fm: FleetCore, items: list[_Item], to_tier: str) -> None:
    """The downgrade's usage check alone (Neon reads, no write): LimitsExceeded (409) with
    every tenant's numbers. `find_projects` first."""
    with guard():
        already = {p.id for p in fm.client.org(fm._tier(to_tier).org).iter_projects()}
    _check_usage(fm, _by_org(fm, items), already, to_tier)


def _by_org(fm: FleetCore, items: list[_Item]) -> dict[str, list[_Item]]:
    by_org: dict[str, list[_Item]] = defaultdict(list)
    for item in items:
        by_org[fm._tier(item.src.tier).org].append(item)
    return by_org


def move_many(
    fm: FleetCore, tenants: list[str], to_tier: str, *, downgrade: bool, apply: bool = True
) -> BulkMove:
    target = fm._tier(to_tier)
    items = plan_moves(fm, tenants, to_tier, downgrade=downgrade)
    result = BulkMove(tier=to_tier)
    if not items:
        return result
    stacks = sorted({i.src.stack for i in items} | {i.dst.stack for i in items})
    with shard_locks(fm.lock_dir, stacks, fm.lock_conninfo):
        find_projects(fm, items)
        dst_org = fm.client.org(target.org)
        with guard():
            already = {p.id for p in dst_org.iter_projects()}
        by_org = _by_org(fm, items)
        if downgrade:
            _check_usage(fm, by_org, already, to_tier)
        chunk = fm.client.config.transfer_chunk_size
        for alias, group in sorted(by_org.items()):
            org = fm.client.org(alias)
            for start in range(0, len(group), chunk):
                batch = group[start : start + chunk]
                todo = [i for i in batch if i.project_id not in already]
                if todo and org.org_id != dst_org.org_id:
                    fm._emit(StackProgress(todo[0].src.stack, "imperative",
                                           f"transfer {len(todo)} projects"))
                    _transfer(fm, org, dst_org.org_id, todo,
                              fit=target if downgrade else None)
                    result.transfer_requests += 1
                _record(fm, batch)
                result.moved += [i.tenant for i in batch]
        targets = sorted({(i.dst.tier, i.dst.shard, i.dst.stack) for i in items},
                         key=lambda t: t[2])
        result.stacks = [t[2] for t in targets]
        if apply:
            for tier, shard, stack in targets:
                out = fm.runner.up(tier, shard)
                for item in items:
                    if item.dst.stack == stack:
                        result.connections[item.tenant] = fm._connection(out, item.dst,
                                                                         item.tenant)
    return result


def _check_usage(
    fm: FleetCore, by_org: dict[str, list[_Item]], already: set[str], to_tier: str
) -> None:
    target = fm._tier(to_tier)
    found: list[str] = []
    violations: dict[str, list[dict[str, int | str]]] = {}
    with guard():
        for alias, group in by_org.items():
            for item in group:
                holder = fm.client.org(target.org if item.project_id in already else alias)
                usage = _usage.read_usage(holder, item.project_id)
                bad = _usage.violations(usage, target, fm.catalog.orgs.get(target.org))
                if bad:
                    violations[item.tenant] = bad
                    found.append(_usage.describe(item.tenant, to_tier, bad))
    if found:
        raise LimitsExceeded("; ".join(found), violations=violations)


def _transfer(
    fm: FleetCore, org: OrgClient, dst_org: str, batch: list[_Item], *, fit: Tier | None
) -> None:
    """One transfer request; 406/422 become errors naming the projects and tenants. With
    `fit` (a downgrade), each project's settings are brought to that tier's first (what the
    smaller org accepts) and put back when the transfer fails, as a single downgrade does."""
    from neon_tenants.client.errors import (
        AmbiguousOutcome,
        TransferIntegrationsBlocked,
        TransferLimitsNotMet,
    )

    named = {i.project_id: i.tenant for i in batch}
    befores: list[Project] = []
    try:
        with guard():
            try:
                if fit is not None:
                    for item in batch:
                        befores.append(_usage.fit_settings(org, item.project_id, fit))
                fm.client.personal.transfer_projects(org.org_id, dst_org,
                                                     [i.project_id for i in batch])
            except AmbiguousOutcome:
                # a lost reply: the target org answers whether the batch arrived
                target = next(o for a in fm.client.credentials.orgs
                              if (o := fm.client.org(a)).org_id == dst_org)
                if not all(_usage.holds(target, i.project_id) for i in batch):
                    raise
            except BaseException:
                for before in befores:  # the refused batch stays as it was
                    _usage.put_back_settings(org, before)
                raise
    except LimitsExceeded as exc:
        cause = exc.__cause__
        limits = cause.limits if isinstance(cause, TransferLimitsNotMet) else []
        listing = ", ".join(f"{p} ({t})" for p, t in named.items())
        raise LimitsExceeded(
            f"the target organization refused the transfer of {len(named)} projects: "
            f"{listing}: limits not met: "
            + ", ".join(f"{x.get('name')} {x.get('actual')} > {x.get('expected')}"
                        for x in limits),
            projects=named, violations=limits,
        ) from exc
    except Exception as exc:
        cause = exc.__cause__
        if isinstance(cause, TransferIntegrationsBlocked):
            blocked = {str(p.get("id")): named.get(str(p.get("id")), "?")
                       for p in cause.projects}
            raise TransferBlocked(
                "projects with integrations cannot be transferred: "
                + ", ".join(f"{p} (tenant {t})" for p, t in blocked.items())
                + "; remove the GitHub/Vercel integration or leave them out",
                projects=blocked,
            ) from exc
        raise


def _record(fm: FleetCore, batch: list[_Item]) -> None:
    """The batch is in the target org: declare it there (adopting), forget it in the source
    stacks (one state edit per stack) and drop it from the source fleets."""
    puts: dict[str, list[TenantSpec]] = defaultdict(list)
    drops: dict[str, list[str]] = defaultdict(list)
    by_stack: dict[str, list[str]] = defaultdict(list)
    for item in batch:
        puts[item.dst.tier].append(
            item.spec.model_copy(update={"adopt_project_id": item.project_id}))
        drops[item.src.tier].append(item.tenant)
        by_stack[item.src.stack].append(item.tenant)
    with guard():
        for tier, specs in puts.items():
            put_many = getattr(fm.store, "put_many", None)
            if put_many is not None:
                put_many(tier, specs)
            else:
                for spec in specs:
                    fm.store.put(tier, spec)
    for stack, names in sorted(by_stack.items()):
        fm.runner.forget(stack, names)
    with guard():
        for tier, names in drops.items():
            delete_many = getattr(fm.store, "delete_many", None)
            if delete_many is not None:
                delete_many(tier, names)
            else:
                for name in names:
                    fm.store.delete(tier, name)
