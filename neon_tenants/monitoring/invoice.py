"""Billing export per tenant: one row per tenant, metric and billing period, priced by tier.

Quantities come from consumption v2 for the whole period (monthly granularity, 100 projects
per page, org-wide), converted to billing units: compute-unit seconds -> CU-hours, byte-months
of storage -> GB-months, transfer bytes -> GB (10^9 bytes). Unit prices are the tier's
(`Tier.prices` in the catalog). An org whose plan consumption v2 does not serve (403) is
billed from the poller's stored readings of that period (compute time and transfer; storage
is not measured there, so it is 0), and its rows say so in `source`.

Deterministic: rows sorted by (tier, tenant, metric), decimals quantized with one rounding
rule, no timestamps of the run; the same period gives the same bytes every time it is asked
for (once Neon's figures for it are final).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Literal, TextIO

from pydantic import BaseModel, ConfigDict

from neon_tenants.client.errors import Forbidden
from neon_tenants.monitoring.billing import iter_billing_rows
from neon_tenants.monitoring.readings import Reading, TenantRef, iso, period_bounds

if TYPE_CHECKING:
    from neon_tenants.catalog import Catalog, Prices
    from neon_tenants.client import NeonClient

Unit = Literal["CU-hour", "GB-month", "GB"]
# consumption v2 metric -> (billing unit, divisor to that unit, price field)
BILLED: dict[str, tuple[Unit, Decimal, str]] = {
    "compute_unit_seconds": ("CU-hour", Decimal(3600), "compute_unit_hour"),
    "root_branch_bytes_month": ("GB-month", Decimal(10**9), "storage_gb_month"),
    "child_branch_bytes_month": ("GB-month", Decimal(10**9), "storage_gb_month"),
    "public_network_transfer_bytes": ("GB", Decimal(10**9), "transfer_gb"),
}
# the same quantities from a reading (quota counters), for orgs consumption v2 does not serve
FROM_READING = {
    "compute_unit_seconds": "compute_time_seconds",
    "public_network_transfer_bytes": "data_transfer_bytes",
}
QUANTUM = Decimal("0.000001")
COLUMNS = ("tenant", "tier", "project_id", "period", "metric", "quantity", "unit", "unit_price",
           "cost", "source")


class InvoiceRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    project_id: str
    period: str
    metric: str
    quantity: Decimal
    unit: Unit
    unit_price: Decimal
    cost: Decimal
    source: Literal["consumption", "readings"]


class TierTotal(BaseModel):
    model_config = ConfigDict(frozen=True)

    tier: str
    tenants: int
    cost: Decimal


def _row(ref: TenantRef, period: str, metric: str, raw: float, prices: Prices,
         source: Literal["consumption", "readings"]) -> InvoiceRow:
    unit, divisor, field = BILLED[metric]
    quantity = (Decimal(str(raw)) / divisor).quantize(QUANTUM, ROUND_HALF_EVEN)
    price: Decimal = getattr(prices, field)
    cost = (quantity * price).quantize(QUANTUM, ROUND_HALF_EVEN)
    return InvoiceRow(tenant=ref.tenant, tier=ref.tier, project_id=ref.project_id, period=period,
                      metric=metric, quantity=quantity, unit=unit, unit_price=price, cost=cost,
                      source=source)  # fmt: skip


def invoice(
    client: NeonClient,
    tenants: Iterable[TenantRef],
    catalog: Catalog,
    period: str,
    readings: dict[str, Reading] | None = None,
) -> list[InvoiceRow]:
    """Every tenant x billed metric for `period` (YYYY-MM); tenants missing from consumption
    get zero rows rather than no rows, so a bill always lists each tenant."""
    start, end = period_bounds(period)
    by_org: dict[str, list[TenantRef]] = defaultdict(list)
    for ref in tenants:
        by_org[ref.org].append(ref)
    rows: list[InvoiceRow] = []
    for alias, refs in sorted(by_org.items()):
        org = client.org(alias)
        wanted = {r.project_id for r in refs}
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        source: Literal["consumption", "readings"] = "consumption"
        try:
            for item in iter_billing_rows(org, iso(start), iso(end), "monthly", list(BILLED)):
                if item.project_id in wanted:
                    sums[item.project_id][item.metric] += item.value
        except Forbidden:
            source = "readings"
            for ref in refs:
                old = (readings or {}).get(ref.tenant)
                if old is not None and old.period == period:
                    for metric, counter in FROM_READING.items():
                        sums[ref.project_id][metric] = float(old.used.get(counter, 0))
        for ref in refs:
            prices = catalog.tier(ref.tier).prices
            for metric in BILLED:
                raw = sums.get(ref.project_id, {}).get(metric, 0.0)
                rows.append(_row(ref, period, metric, raw, prices, source))
    rows.sort(key=lambda r: (r.tier, r.tenant, r.metric))
    return rows


def totals(rows: Iterable[InvoiceRow]) -> list[TierTotal]:
    cost: dict[str, Decimal] = defaultdict(Decimal)
    people: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        cost[r.tier] += r.cost
        people[r.tier].add(r.tenant)
    return [TierTotal(tier=t, tenants=len(people[t]), cost=cost[t]) for t in sorted(cost)]


def write_csv(rows: list[InvoiceRow], stream: TextIO) -> None:
    """The rows, then one `TOTAL` line per tier (tenant column `TOTAL`, metric `*`)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([str(getattr(r, c)) for c in COLUMNS])
    for t in totals(rows):
        period = rows[0].period if rows else ""
        writer.writerow(["TOTAL", t.tier, "", period, "*", "", "", "", str(t.cost), ""])


def write_json(rows: list[InvoiceRow], stream: TextIO, period: str) -> None:
    payload = {
        "period": period,
        "rows": [r.model_dump(mode="json") for r in rows],
        "totals": [t.model_dump(mode="json") for t in totals(rows)],
    }
    stream.write(json.dumps(payload, indent=1, sort_keys=True) + "\n")
