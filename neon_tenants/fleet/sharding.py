"""Stable sharding of a tier's fleet across N stacks, and stack naming.

A tenant's shard must not depend on the process (Python's `hash()` is salted per run) nor
on the other tenants, so that one tenant's operation always lands on the same small stack
(issue 7). sha256 of the id, first 8 bytes, modulo N.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from neon_tenants.fleet.spec import FleetSpec, TenantSpec

_STACK_RE = re.compile(r"^(?P<tier>[a-z0-9][a-z0-9_-]*?)(?:-(?P<shard>\d{2}))?$")


def shard_of(tenant_id: str, n: int) -> int:
    if n < 1:
        raise ValueError("the number of shards must be at least 1")
    digest = hashlib.sha256(tenant_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def stack_name(tier: str, shard: int | None, shards: int) -> str:
    """`<tier>` for an unsharded tier, `<tier>-NN` otherwise."""
    if shards <= 1:
        return tier
    if shard is None or not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1} for tier {tier!r}")
    return f"{tier}-{shard:02d}"


@dataclass(frozen=True)
class StackRef:
    """A stack of the fleet: tier and shard (None when the tier is not sharded)."""

    tier: str
    shard: int | None

    def name(self, shards: int) -> str:
        return stack_name(self.tier, self.shard, shards)


def parse_stack_name(name: str) -> StackRef:
    """Inverse of `stack_name`: `free-03` -> (free, 3), `pro` -> (pro, None)."""
    match = _STACK_RE.match(name)
    if not match:
        raise ValueError(f"{name!r} is not a fleet stack name (<tier> or <tier>-NN)")
    shard = match.group("shard")
    return StackRef(match.group("tier"), int(shard) if shard is not None else None)


def tenants_of_shard(fleet: FleetSpec, shard: int | None) -> tuple[TenantSpec, ...]:
    if fleet.shards <= 1 or shard is None:
        if fleet.shards > 1:
            raise ValueError(f"tier {fleet.tier!r} has {fleet.shards} shards: pick one")
        return fleet.tenants
    return tuple(t for t in fleet.tenants if shard_of(t.id, fleet.shards) == shard)


def shard_for(fleet: FleetSpec, tenant_id: str) -> int | None:
    return None if fleet.shards <= 1 else shard_of(tenant_id, fleet.shards)


def all_stacks(fleet: FleetSpec) -> list[StackRef]:
    if fleet.shards <= 1:
        return [StackRef(fleet.tier, None)]
    return [StackRef(fleet.tier, i) for i in range(fleet.shards)]
