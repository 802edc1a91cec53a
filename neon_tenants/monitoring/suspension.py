"""The `raise_quota` policy: a tenant suspended by its quota gets the next tier's quota.

Only for tiers whose alert rules say `suspended: {<tier>: raise_quota}` (the platform allows
it); `notify` tiers only get the `quota_suspended` event. The next tier is the one after the
tenant's in catalog order (free -> pro -> enterprise for the built-ins). Overrides may only
lower a tier's quota (the tenant model's rule), so the next tier's values come with the next
tier: `FleetManager.upgrade` (same project, transferred in place when the org changes; fleet,
state and Neon agree, and Neon lifts the suspension under the larger quota). The outcome is an
event too: `quota_raised`, or `quota_raise_failed` naming the refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from neon_tenants.automation._errors import FleetError
from neon_tenants.catalog import Catalog
from neon_tenants.monitoring.models import Event, EventKind

Apply = Callable[[str, str], object]  # (tenant, next tier): FleetManager.upgrade


def next_tier(catalog: Catalog, tier: str) -> str | None:
    names = list(catalog.tiers)
    at = names.index(tier) if tier in names else -1
    return names[at + 1] if 0 <= at < len(names) - 1 else None


class QuotaRaiser:
    def __init__(self, catalog: Catalog, apply: Apply) -> None:
        self.catalog = catalog
        self.apply = apply

    def __call__(self, events: Iterable[Event]) -> list[Event]:
        out: list[Event] = []
        for e in events:
            if e.kind != "quota_suspended" or e.detail.get("policy") != "raise_quota":
                continue
            target = next_tier(self.catalog, e.tier)
            if target is None:
                out.append(_follow(e, "quota_raise_failed", error=f"no tier after {e.tier}"))
                continue
            try:
                self.apply(e.tenant, target)
            except FleetError as exc:
                out.append(_follow(e, "quota_raise_failed", to_tier=target,
                                   error=str(exc)))  # fmt: skip
                continue
            out.append(_follow(e, "quota_raised", to_tier=target))
        return out


def _follow(e: Event, kind: EventKind, **detail: str) -> Event:
    return e.model_copy(update={"id": Event.make_id(kind, e.tenant, e.metric, None, e.period),
                                "kind": kind, "detail": {**e.detail, **detail}})
