"""Raw consumption v2 rows (CONTRACT.md section 6): what invoice.py prices per tenant.

The guide's `/consumption_history/projects` serves legacy plans only; the Agent plan reads
`/consumption_history/v2/projects` with org_id, from, to, granularity and metrics all
required (seed/README.md). One row per project, per timeframe (the granularity bucket inside
a billing period) and per metric, so a billing system can sum rows however it prices them.
The call does not wake computes; Neon refreshes the data about every 15 minutes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from neon_tenants.client import OrgClient

Granularity = Literal["hourly", "daily", "monthly"]
V2_METRICS: tuple[str, ...] = (
    "compute_unit_seconds",
    "root_branch_bytes_month",
    "child_branch_bytes_month",
    "instant_restore_bytes_month",
    "public_network_transfer_bytes",
    "private_network_transfer_bytes",
    "extra_branches_month",
    "snapshot_storage_bytes_month",
)
DEFAULT_METRICS: tuple[str, ...] = (
    "compute_unit_seconds",
    "root_branch_bytes_month",
    "child_branch_bytes_month",
    "public_network_transfer_bytes",
)
MAX_PAGE = 100  # consumption v2 projects: limit 1..100


class BillingRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: str
    project_id: str
    project_name: str
    period_id: str
    period_plan: str
    timeframe_start: str
    timeframe_end: str
    metric: str
    value: float



def check_metrics(metrics: Sequence[str]) -> list[str]:
    """Fail before any request: an unknown name is a 400 from Neon anyway."""
    bad = [m for m in metrics if m not in V2_METRICS]
    if not metrics or bad:
        raise ValueError(f"metrics must be a non-empty subset of {', '.join(V2_METRICS)}")
    return list(dict.fromkeys(metrics))


def iter_billing_rows(
    org: OrgClient,
    from_: str,
    to: str,
    granularity: Granularity = "daily",
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    project_ids: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    page_size: int = MAX_PAGE,
) -> Iterator[BillingRow]:
    """Follow every consumption page; `names` maps project id -> name for readable rows.

    project_ids is capped at 100 per request by Neon, so longer lists are chunked.
    """
    wanted = check_metrics(metrics)
    chunks: list[Sequence[str] | None] = (
        [project_ids[i : i + 100] for i in range(0, len(project_ids), 100)]
        if project_ids
        else [None]
    )
    for chunk in chunks:
        pages = org.iter_consumption_projects(
            org.org_id,
            from_,
            to,
            granularity,
            wanted,
            project_ids=chunk,
            limit=min(max(page_size, 1), MAX_PAGE),
        )
        for project in pages:
            name = (names or {}).get(project.project_id, "")
            for period in project.periods:
                for frame in period.consumption:
                    for metric in frame.metrics:
                        yield BillingRow(
                            org_id=org.org_id,
                            project_id=project.project_id,
                            project_name=name,
                            period_id=period.period_id,
                            period_plan=period.period_plan,
                            timeframe_start=frame.timeframe_start,
                            timeframe_end=frame.timeframe_end,
                            metric=metric.metric_name,
                            value=metric.value,
                        )
