"""One poll cycle: every fleet tenant's counters from the cheapest source that carries them.

Three sources, cheapest first (issue 13; CONTRACT.md sections 1 and 6):
1. the organization's project list, 400 projects per page: `active_time` and
   `synthetic_storage_size` (an upper bound of the largest branch's logical size), the quota
   actually applied (`settings.quota`) and `compute_last_active_at`;
2. consumption v2, org-wide, 100 projects per page: `compute_unit_seconds` (the compute-time
   counter) and `public_network_transfer_bytes` (data transfer) summed over the billing
   period; paced at 30 requests per minute on a budget of its own (the guide's polling
   figures). Plans that consumption v2 does not serve answer 403: that org is marked and
   its tenants rely on the other two sources;
3. `GET /projects/{id}` (every counter), only for tenants close to a threshold (any ratio at
   or above `near_ratio`, fresh or remembered) and, for limited metrics no cheap source
   carries, once per period and then again when the remembered value is older than
   `reread_after_seconds` (4 hours), oldest first: a rotation, not a read per cycle.
Per-project reads have a budget of their own too (300/min by default, leaving most of the
account's 700/min to the platform) and only use what is left of the cycle once the cheap
sources are done. A 30,000-tenant fleet costs 75 list pages and at most 300 consumption pages:
ten minutes at 30/min, inside the 15-minute cycle Neon asks for
(benchmarks/bench_usage_poller.py).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from neon_tenants.client.errors import Forbidden, NotFound
from neon_tenants.monitoring._transport import MeteredTransport, RateBudget
from neon_tenants.monitoring.models import CycleReport
from neon_tenants.monitoring.readings import (
    METRICS,
    Reading,
    Source,
    TenantRef,
    iso,
    period_bounds,
    period_of,
)

if TYPE_CHECKING:
    from neon_tenants.catalog import Catalog
    from neon_tenants.client import NeonClient, OrgClient
    from neon_tenants.client.models.projects import ProjectListItem
    from neon_tenants.monitoring.store import UsageStore

MIN_INTERVAL_SECONDS = 900  # Neon refreshes consumption about every 15 minutes
CONSUMPTION_ROUTE = "GET /consumption_history/"
PROJECT_ROUTE = "GET /projects/{project_id}"
CYCLE_SHARE = 0.9  # per-project reads stop when 90 % of the interval is spent
# consumption v2 metric -> the quota counter it measures
CONSUMPTION_METRICS = {
    "compute_unit_seconds": "compute_time_seconds",
    "public_network_transfer_bytes": "data_transfer_bytes",
}
LIST_METRICS = ("active_time_seconds", "logical_size_bytes")
LIVE = ("list", "consumption")


class PollerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    interval_seconds: float = Field(default=MIN_INTERVAL_SECONDS, ge=MIN_INTERVAL_SECONDS)
    consumption_per_minute: int = Field(default=30, ge=1, le=30)
    near_ratio: float = Field(default=0.7, gt=0, le=1)
    max_project_reads: int = Field(default=1500, ge=0)
    project_reads_per_minute: int = Field(default=300, ge=1, le=700)
    reread_after_seconds: float = Field(default=4 * 3600, ge=MIN_INTERVAL_SECONDS)
    list_page_size: int = Field(default=400, ge=1, le=400)
    consumption_page_size: int = Field(default=100, ge=1, le=100)


Directory = Callable[[], list[TenantRef]]


class Pacing:
    """The poller's two budgets and the clock they and the cycle's time use. Injectable
    clock/sleep let a benchmark schedule a long cycle without sleeping it out."""

    def __init__(
        self,
        config: PollerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.consumption = RateBudget(config.consumption_per_minute, clock=clock, sleep=sleep)
        self.reads = RateBudget(config.project_reads_per_minute, clock=clock, sleep=sleep)

    @property
    def slept(self) -> float:
        return self.consumption.slept + self.reads.slept


def make_client(
    credentials: Any,
    base_url: str,
    pacing: Pacing,
    *,
    inner: Any = None,
    list_page_size: int = 400,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[NeonClient, MeteredTransport]:
    """The poller's own client: every request counted, consumption and reads paced; the
    client's own 700/min limiter runs on the pacing clock too."""
    from neon_tenants.client import ClientConfig, NeonClient

    budgets = {CONSUMPTION_ROUTE: pacing.consumption, PROJECT_ROUTE: pacing.reads}
    transport = MeteredTransport(inner, budgets)
    config = ClientConfig(base_url=base_url, projects_page_size=list_page_size)
    client = NeonClient(credentials, config, transport, sleep=sleep, clock=pacing.clock)
    return client, transport


class Poller:
    def __init__(
        self,
        client: NeonClient,
        transport: MeteredTransport,
        directory: Directory,
        store: UsageStore,
        catalog: Catalog,
        config: PollerConfig | None = None,
        *,
        pacing: Pacing | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.transport = transport
        self.directory = directory
        self.store = store
        self.catalog = catalog
        self.config = config or PollerConfig()
        self.pacing = pacing or Pacing(self.config)
        self.now = now

    # -- one cycle ------------------------------------------------------------------------------
    def cycle(self) -> tuple[list[Reading], CycleReport]:
        wall = time.monotonic()
        started = self.pacing.clock()
        consumption_before = self.pacing.consumption.slept
        paced_before = self.pacing.slept
        moment = self.now()
        period = period_of(moment)
        tenants = self.directory()
        previous = self.store.latest()
        by_org: dict[str, list[TenantRef]] = defaultdict(list)
        for ref in tenants:
            by_org[ref.org].append(ref)

        used: dict[str, dict[str, int]] = {t.tenant: {} for t in tenants}
        sources: dict[str, dict[str, Source]] = {t.tenant: {} for t in tenants}
        taken = iso(moment)
        read_at: dict[str, dict[str, str]] = {t.tenant: {} for t in tenants}
        limits: dict[str, dict[str, int]] = {}
        active: dict[str, str | None] = {}
        missing: list[str] = []
        no_consumption: list[str] = []
        for alias, refs in sorted(by_org.items()):
            org = self.client.org(alias)
            listed = self._list(org, refs)
            for ref in refs:
                item = listed.get(ref.project_id)
                if item is None:
                    missing.append(ref.tenant)
                    continue
                extra = item.model_extra or {}
                limits[ref.tenant] = self._limits(ref, item)
                active[ref.tenant] = str(extra.get("compute_last_active_at") or item.created_at)
                used[ref.tenant]["active_time_seconds"] = int(extra.get("active_time") or 0)
                used[ref.tenant]["logical_size_bytes"] = int(
                    extra.get("synthetic_storage_size") or 0
                )
                for m in LIST_METRICS:
                    sources[ref.tenant][m] = "list"
            counters = self._consumption(org, period, moment)
            if counters is None:
                no_consumption.append(alias)
                continue
            for ref in refs:
                for name, value in counters.get(ref.project_id, {}).items():
                    used[ref.tenant][name] = value
                    sources[ref.tenant][name] = "consumption"

        present = [t for t in tenants if t.tenant in limits]
        for ref in present:  # what no source gave this cycle: the last reading of the period
            old = previous.get(ref.tenant)
            if old is None or old.period != period:
                continue
            for m in METRICS:
                if m not in used[ref.tenant] and m in old.used:
                    used[ref.tenant][m] = old.used[m]
                    sources[ref.tenant][m] = "carried"
                    read_at[ref.tenant][m] = old.read_at.get(m, old.taken_at)
        for ref in present:
            for m, src in sources[ref.tenant].items():
                if src != "carried":
                    read_at[ref.tenant][m] = taken

        left = self.config.interval_seconds * CYCLE_SHARE - (self.pacing.clock() - started)
        cap = min(self.config.max_project_reads,
                  max(0, int(left * self.config.project_reads_per_minute / 60)))
        stale_before = iso(moment - timedelta(seconds=self.config.reread_after_seconds))
        reads = self._read_projects(present, used, sources, limits, read_at, stale_before, cap,
                                    taken)  # fmt: skip
        readings = [
            Reading(tenant=r.tenant, tier=r.tier, project_id=r.project_id, org=r.org,
                    period=period, taken_at=taken, used=used[r.tenant], limits=limits[r.tenant],
                    sources=sources[r.tenant], read_at=read_at[r.tenant],
                    last_active_at=active.get(r.tenant),
                    protected=r.protected)
            for r in present
        ]  # fmt: skip
        self.store.save_readings(readings)
        counts = self.transport.take_counts()
        report = CycleReport(
            started_at=taken,
            duration_seconds=round(time.monotonic() - wall, 3),
            scheduled_seconds=round(self.pacing.clock() - started, 3),
            tenants=len(tenants),
            readings=len(readings),
            requests=counts,
            requests_total=sum(counts.values()),
            consumption_requests=sum(v for k, v in counts.items() if CONSUMPTION_ROUTE in k),
            consumption_paced_seconds=round(self.pacing.consumption.slept - consumption_before, 3),
            paced_seconds=round(self.pacing.slept - paced_before, 3),
            project_reads=reads,
            orgs_without_consumption=no_consumption,
            missing_projects=sorted(missing),
        )
        return readings, report

    # -- sources ------------------------------------------------------------------------------
    def _list(self, org: OrgClient, refs: list[TenantRef]) -> dict[str, ProjectListItem]:
        wanted = {r.project_id for r in refs}
        return {p.id: p for p in org.iter_projects() if p.id in wanted}

    def _limits(self, ref: TenantRef, item: ProjectListItem) -> dict[str, int]:
        """The quota Neon applies (overrides included); the tier's when the list has none."""
        applied = (item.settings or {}).get("quota")
        if applied is None:
            tier = self.catalog.tiers.get(ref.tier)
            applied = tier.quota.model_dump() if tier is not None else {}
        return {m: int(applied.get(m) or 0) for m in METRICS}

    def _consumption(
        self, org: OrgClient, period: str, moment: datetime
    ) -> dict[str, dict[str, int]] | None:
        """project id -> counters summed over the period; None when the plan is not served."""
        start, _ = period_bounds(period)
        end = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        out: dict[str, dict[str, int]] = {}
        try:
            pages = org.iter_consumption_projects(
                org.org_id, iso(start), iso(end), "monthly", list(CONSUMPTION_METRICS),
                limit=self.config.consumption_page_size,
            )  # fmt: skip
            for project in pages:
                sums: dict[str, int] = defaultdict(int)
                for p in project.periods:
                    for frame in p.consumption:
                        for metric in frame.metrics:
                            name = CONSUMPTION_METRICS.get(metric.metric_name)
                            if name is not None:
                                sums[name] += int(metric.value)
                out[project.project_id] = dict(sums)
        except Forbidden:
            return None
        return out

    def _read_projects(
        self,
        refs: Iterable[TenantRef],
        used: dict[str, dict[str, int]],
        sources: dict[str, dict[str, Source]],
        limits: dict[str, dict[str, int]],
        read_at: dict[str, dict[str, str]],
        stale_before: str,
        cap: int,
        taken: str,
    ) -> int:
        """Per-project reads: near a threshold first (highest ratio first), then limited
        metrics no live source gave that were never read this period or were read before
        `stale_before` (oldest first), up to `cap` (what the reads budget allows in the time
        left of the cycle)."""
        near: list[tuple[float, TenantRef]] = []
        uncovered: list[tuple[str, TenantRef]] = []
        for ref in refs:
            lim, val = limits[ref.tenant], used[ref.tenant]
            ratios = [val[m] / lim[m] for m in METRICS if lim[m] > 0 and m in val]
            if ratios and max(ratios) >= self.config.near_ratio:
                near.append((max(ratios), ref))
                continue
            when = [read_at[ref.tenant].get(m, "") for m in METRICS
                    if lim[m] > 0 and sources[ref.tenant].get(m) in (None, "carried")]
            oldest = min(when, default=None)
            if oldest is not None and oldest < stale_before:  # "" (never read) sorts first
                uncovered.append((oldest, ref))
        near.sort(key=lambda x: (-x[0], x[1].tenant))
        uncovered.sort(key=lambda x: (x[0], x[1].tenant))
        close = {r.tenant for _, r in near}
        queue = [r for _, r in near] + [r for _, r in uncovered]
        count = 0
        for ref in queue[:cap]:
            try:
                project = self.client.org(ref.org).get_project(ref.project_id)
            except NotFound:
                continue
            count += 1
            fresh = {
                "active_time_seconds": project.active_time_seconds,
                "compute_time_seconds": project.compute_time_seconds,
                "written_data_bytes": project.written_data_bytes,
                "data_transfer_bytes": project.data_transfer_bytes,
            }
            for m, v in fresh.items():
                # near a line: every counter from this read; else only what nobody carried
                keep = ref.tenant not in close and sources[ref.tenant].get(m) in LIVE
                if v is not None and not keep:
                    used[ref.tenant][m] = int(v)
                    sources[ref.tenant][m] = "project"
                    read_at[ref.tenant][m] = taken
        return count
