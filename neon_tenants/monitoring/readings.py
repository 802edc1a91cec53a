"""What the poller knows about one tenant: its fleet identity and one reading of its counters.

A reading is per billing period (Neon resets the counters each period, except logical size:
CONTRACT.md section 1). Every value says where it came from (`sources`): the organization's
project list, consumption v2, a per-project read, or a value carried over from an earlier
reading of the same period, so a report can tell fresh numbers from remembered ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

METRICS: tuple[str, ...] = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
    "logical_size_bytes",
)
# every quota except logical size suspends all computes when reached (CONTRACT.md section 1)
SUSPENDING: tuple[str, ...] = METRICS[:4]
Source = Literal["list", "consumption", "project", "carried"]


class TenantRef(BaseModel):
    """A tenant as the fleet knows it: id, tier, the project it owns and the org alias."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    project_id: str
    org: str
    protected: bool = False


class Reading(BaseModel):
    """One tenant's counters for a billing period, their limits, and where each came from."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    project_id: str
    org: str
    period: str = Field(description="billing period, YYYY-MM (UTC)")
    taken_at: str
    used: dict[str, int]
    limits: dict[str, int]
    sources: dict[str, Source]
    read_at: dict[str, str] = Field(default_factory=dict, description="last live measurement")
    last_active_at: str | None = None
    protected: bool = False

    def ratio(self, metric: str) -> float | None:
        """used / limit; None when the metric is unlimited (0) or was never read."""
        limit = self.limits.get(metric, 0)
        if limit <= 0 or metric not in self.used:
            return None
        return self.used[metric] / limit

    @property
    def worst_ratio(self) -> float | None:
        ratios = [r for m in METRICS if (r := self.ratio(m)) is not None]
        return max(ratios, default=None)

    @property
    def suspended_by(self) -> str | None:
        """The first suspending quota reached: Neon has suspended this tenant's computes."""
        for metric in SUSPENDING:
            ratio = self.ratio(metric)
            if ratio is not None and ratio >= 1.0:
                return metric
        return None


def period_of(moment: datetime) -> str:
    """Billing periods are calendar months in UTC (the project's consumption_period_*)."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM period."""
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(
        month=start.month + 1
    )
    return start, end


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_ts(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
