"""collect_usage and evaluate against the metadata emulator (no Postgres: counters are 0)."""

from __future__ import annotations

from neon_tenants.catalog import builtin_catalog
from neon_tenants.client import NeonClient
from neon_tenants.monitoring import collect_usage, evaluate

from .conftest import MakeProject


def test_report_over_several_projects_reads_each_quota(
    neon: NeonClient, make_project: MakeProject, prefix: str
) -> None:
    a = make_project("alpha", active_time_seconds=360_000, logical_size_bytes=536_870_912)
    b = make_project("beta", written_data_bytes=1_000_000, data_transfer_bytes=5_000)
    c = make_project("gamma")  # no quota at all
    catalog = builtin_catalog()
    d = make_project("delta", **catalog.tiers["free"].quota.model_dump())
    usages = collect_usage(neon.org("free"), search=prefix, platform=prefix, catalog=catalog)
    by_tenant = {u.tenant: u for u in usages}
    assert set(by_tenant) == {"alpha", "beta", "gamma", "delta"}
    assert by_tenant["delta"].project_id == d.project.id
    assert [by_tenant[t].tier for t in ("alpha", "beta", "gamma", "delta")] == [
        None, None, None, "free",
    ]  # fmt: skip
    assert by_tenant["alpha"].project_id == a.project.id
    assert by_tenant["beta"].project_id == b.project.id
    assert by_tenant["gamma"].project_id == c.project.id
    alpha = by_tenant["alpha"]
    assert alpha.org == "free" and alpha.org_id == neon.org("free").org_id
    assert alpha.metric("active_time_seconds").limit == 360_000
    assert alpha.metric("logical_size_bytes").limit == 536_870_912
    assert alpha.metric("written_data_bytes").limit == 0
    assert by_tenant["beta"].metric("data_transfer_bytes").limit == 5_000
    assert all(m.limit == 0 for m in by_tenant["gamma"].metrics)
    for u in usages:  # metadata backend: nothing used, so limited ratios are exactly 0
        assert all(m.used == 0 for m in u.metrics)
        assert {m.ratio for m in u.metrics if m.limit} <= {0.0}
    assert evaluate(usages) == []
    assert alpha.consumption_period_start is not None


def test_report_is_scoped_to_org(neon: NeonClient, make_project: MakeProject, prefix: str) -> None:
    make_project("paid-one", org="paid", compute_time_seconds=7_200)
    make_project("free-one", org="free")
    paid = collect_usage(neon.org("paid"), search=prefix, platform=prefix, branch_sizes=False)
    assert [(u.tenant, u.org) for u in paid] == [("paid-one", "paid")]
    assert paid[0].metric("compute_time_seconds").limit == 7_200
