"""Alert thresholds: warn at 80 % and go critical at 95 % (the guide's "Usage alerts").

A value object tested with tables; rules.py picks one per tier and metric. Over 100 % stays
"critical": Neon has already suspended the computes (or made writes fail, for logical size).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from neon_tenants.monitoring.models import Level


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
