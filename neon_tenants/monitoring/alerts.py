"""Quota alerts: warn at 80 % and go critical at 95 % (the guide's "Usage alerts").

Pure functions over TenantUsage, so the thresholds are tested with tables and the same
rules serve the CLI, a cron job or the platform backend. Over 100 % stays "critical": Neon
has already suspended the computes (or made writes fail, for logical size) by then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neon_tenants.monitoring.usage import TenantUsage

Level = Literal["warning", "critical"]
_RANK: dict[str, int] = {"critical": 2, "warning": 1}


class Thresholds(BaseModel):
    """Ratios of the limit (0.8 = 80 %); warning must not exceed critical."""

    model_config = ConfigDict(frozen=True)

    warning: float = Field(default=0.80, gt=0)
    critical: float = Field(default=0.95, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.warning > self.critical:
            raise ValueError(f"warning threshold {self.warning} is above critical {self.critical}")
        return self

    def level(self, ratio: float | None) -> Level | None:
        """None for unlimited metrics (no ratio) and for usage below the warning line."""
        if ratio is None:
            return None
        if ratio >= self.critical:
            return "critical"
        if ratio >= self.warning:
            return "warning"
        return None


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    project_id: str
    org: str
    metric: str
    used: int
    limit: int
    percent: float
    level: Level


def evaluate(usages: Iterable[TenantUsage], thresholds: Thresholds | None = None) -> list[Alert]:
    """One alert per (tenant, metric) at or above a threshold; worst first."""
    rules = thresholds or Thresholds()
    out: list[Alert] = []
    for usage in usages:
        for m in usage.metrics:
            level = rules.level(m.ratio)
            if level is None or m.ratio is None:
                continue
            out.append(
                Alert(
                    tenant=usage.tenant,
                    project_id=usage.project_id,
                    org=usage.org,
                    metric=m.name,
                    used=m.used,
                    limit=m.limit,
                    percent=round(m.ratio * 100, 2),
                    level=level,
                )
            )
    out.sort(key=lambda a: (-_RANK[a.level], -a.percent, a.tenant, a.metric))
    return out


def worst_level(usage: TenantUsage, thresholds: Thresholds | None = None) -> Level | None:
    """The tenant's most severe level (for colouring a report row)."""
    return (thresholds or Thresholds()).level(usage.worst_ratio)
