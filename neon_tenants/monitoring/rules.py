"""Alert rules per tier and metric, and the events a set of readings raises.

Each (tenant, metric, level) raises at most one event per billing period: the event id is
derived from those four and the store keeps the ids it has raised (`raise_once`), so a
restart, a second poller cycle or a reading that dips and climbs again stays silent. A
reading that jumps past both lines in one cycle raises both events, once each.

A tenant at 100 % of a suspending quota has had its computes suspended by Neon
(CONTRACT.md section 1): that raises its own `quota_suspended` event, whose `policy` (per
tier) tells the platform what to do: `notify` only, or `raise_quota` (to the next tier's
values, which the caller applies through the fleet when it allows it).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from neon_tenants.monitoring.alerts import Thresholds
from neon_tenants.monitoring.models import Event, EventKind, Level
from neon_tenants.monitoring.readings import METRICS, Reading

SuspendPolicy = Literal["notify", "raise_quota"]


class AlertRules(BaseModel):
    """`tiers: {free: {active_time_seconds: {warning: 0.5, critical: 0.9}, "*": {...}}}`"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Thresholds = Thresholds()
    tiers: dict[str, dict[str, Thresholds]] = Field(default_factory=dict)
    suspended: dict[str, SuspendPolicy] = Field(default_factory=dict)

    def thresholds(self, tier: str, metric: str) -> Thresholds:
        per_tier = self.tiers.get(tier, {})
        return per_tier.get(metric) or per_tier.get("*") or self.default

    def suspend_policy(self, tier: str) -> SuspendPolicy:
        return self.suspended.get(tier, "notify")

    @classmethod
    def load(cls, path: Path | None) -> AlertRules:
        """From a YAML file (unknown metrics refused before anything runs); defaults if None."""
        if path is None:
            return cls()
        rules = cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        for tier, metrics in rules.tiers.items():
            bad = sorted(set(metrics) - {*METRICS, "*"})
            if bad:
                raise ValueError(
                    f"{path}: tiers.{tier}: unknown metric(s) {bad}; allowed: {list(METRICS)}, '*'"
                )
        return rules


def check_tiers(rules: AlertRules, known: Iterable[str], source: str = "rules") -> None:
    """Refuse rules for tiers the catalog does not have (a typo would silently never apply)."""
    names = sorted(known)
    for part, tiers in (("tiers", rules.tiers), ("suspended", rules.suspended)):
        bad = sorted(set(tiers) - set(names))
        if bad:
            raise ValueError(f"{source}: {part}: unknown tier(s) {bad}; allowed: {names}")


def _event(r: Reading, kind: EventKind, metric: str, level: Level | None, at: str,
           **detail: str) -> Event:
    limit = r.limits[metric]
    used = r.used[metric]
    return Event(
        id=Event.make_id(kind, r.tenant, metric, level, r.period),
        kind=kind,
        tenant=r.tenant,
        tier=r.tier,
        project_id=r.project_id,
        period=r.period,
        created_at=at,
        metric=metric,
        level=level,
        used=used,
        limit=limit,
        percent=round(used / limit * 100, 2),
        detail=dict(detail),
    )


def events_for(readings: Iterable[Reading], rules: AlertRules) -> list[Event]:
    """Every event these readings justify (the store then drops those already raised)."""
    out: list[Event] = []
    for r in readings:
        for metric in METRICS:
            ratio = r.ratio(metric)
            if ratio is None:
                continue
            rule = rules.thresholds(r.tier, metric)
            if ratio >= rule.warning:
                out.append(_event(r, "quota_threshold", metric, "warning", r.taken_at))
            if ratio >= rule.critical:
                out.append(_event(r, "quota_threshold", metric, "critical", r.taken_at))
        suspended = r.suspended_by
        if suspended is not None:
            out.append(_event(r, "quota_suspended", suspended, None, r.taken_at,
                              policy=rules.suspend_policy(r.tier)))  # fmt: skip
    return out
