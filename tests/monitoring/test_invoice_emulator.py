"""Billing export per tenant, priced by tier, against the metadata emulator."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from neon_tenants.catalog import load_catalog
from neon_tenants.client import NeonClient
from neon_tenants.monitoring.invoice import invoice, write_csv, write_json
from neon_tenants.monitoring.readings import TenantRef, period_of
from tests.monitoring.conftest import MakeProject
from tests.monitoring.test_watch_emulator import build, set_usage


def test_one_row_per_tenant_metric_and_period_with_the_tier_price(
    metadata_emulator: Any, neon: NeonClient, make_project: MakeProject, prefix: str,
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    paid = make_project("pay", "paid")
    free = make_project("gratis", "free", compute_time_seconds=10**6, data_transfer_bytes=10**12)
    refs = [TenantRef(tenant=f"{prefix}-pay", tier="pro", project_id=paid.project.id, org="paid"),
            TenantRef(tenant=f"{prefix}-gratis", tier="free", project_id=free.project.id,
                      org="free")]
    set_usage(metadata_emulator, paid.project.id, compute_time_seconds=7200,
              logical_size_bytes=2 * 10**9, data_transfer_bytes=5 * 10**9)
    set_usage(metadata_emulator, free.project.id, compute_time_seconds=3600,
              data_transfer_bytes=10**9)
    svc = build(metadata_emulator, tmp_path, refs, [])
    svc.run_once()  # the free org's figures come from the poller's readings (403 on v2)
    period = period_of(datetime.now(UTC))
    catalog = load_catalog()

    rows = invoice(neon, refs, catalog, period, svc.store.latest())
    by = {(r.tenant.rsplit("-", 1)[1], r.metric): r for r in rows}
    assert len(rows) == 8 and {r.period for r in rows} == {period}
    compute = by[("pay", "compute_unit_seconds")]
    assert (compute.quantity, compute.unit, compute.unit_price, compute.cost) == (
        Decimal("2"), "CU-hour", Decimal("0.106"), Decimal("0.212"))
    assert compute.source == "consumption" and compute.tier == "pro"
    assert by[("pay", "root_branch_bytes_month")].quantity == Decimal("2")
    assert by[("pay", "public_network_transfer_bytes")].quantity == Decimal("5")
    sponsored = by[("gratis", "compute_unit_seconds")]
    assert (sponsored.quantity, sponsored.cost, sponsored.source) == (
        Decimal("1"), Decimal("0"), "readings")

    first, second = io.StringIO(), io.StringIO()
    write_csv(rows, first)
    write_csv(invoice(neon, refs, catalog, period, svc.store.latest()), second)
    assert first.getvalue() == second.getvalue()  # the same export every time
    lines = first.getvalue().splitlines()
    assert lines[0] == ("tenant,tier,project_id,period,metric,quantity,unit,unit_price,cost,"
                        "source")
    assert lines[-2:] == [f"TOTAL,free,,{period},*,,,,0.000000,",
                          f"TOTAL,pro,,{period},*,,,,0.212000,"]
    out = io.StringIO()
    write_json(rows, out, period)
    totals = json.loads(out.getvalue())["totals"]
    assert totals == [{"cost": "0.000000", "tenants": 1, "tier": "free"},
                      {"cost": "0.212000", "tenants": 1, "tier": "pro"}]
