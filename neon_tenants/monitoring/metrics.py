"""Prometheus metrics from the monitoring store (`neon-tenants usage serve`).

A custom collector reads the store on every scrape, so the exporter holds no state of its
own: it may run beside the poller or in another process, and shows what the poller last
stored. Series:
- `neon_tenants_usage_ratio{tenant,tier,metric}`: used / limit (limited metrics only);
- `neon_tenants_tenants_over_threshold{tier,level}`: tenants with any metric at or above the
  tier's warning / critical line; `neon_tenants_tenants_suspended{tier}`: at a suspending quota;
- `neon_tenants_poll_cycle_duration_seconds`, `neon_tenants_poll_requests{route}`,
  `neon_tenants_poll_consumption_requests`: the last cycle;
- `neon_tenants_webhook_failures_total`: failed delivery attempts in the delivery log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from neon_tenants.monitoring.readings import METRICS
from neon_tenants.monitoring.rules import AlertRules
from neon_tenants.monitoring.store import UsageStore


class UsageCollector(Collector):
    def __init__(self, store: UsageStore, rules: AlertRules | None = None) -> None:
        self.store = store
        self.rules = rules or AlertRules()

    def collect(self) -> Iterator[Metric]:
        ratio = GaugeMetricFamily("neon_tenants_usage_ratio", "used / limit this billing period",
                                  labels=["tenant", "tier", "metric"])  # fmt: skip
        over = GaugeMetricFamily("neon_tenants_tenants_over_threshold",
                                 "tenants at or above a threshold", labels=["tier", "level"])
        suspended = GaugeMetricFamily("neon_tenants_tenants_suspended",
                                      "tenants at a quota that suspends computes", labels=["tier"])
        counts: Counter[tuple[str, str]] = Counter()
        stopped: Counter[str] = Counter()
        for r in sorted(self.store.latest().values(), key=lambda x: x.tenant):
            levels: set[str] = set()
            for metric in METRICS:
                value = r.ratio(metric)
                if value is None:
                    continue
                ratio.add_metric([r.tenant, r.tier, metric], value)
                rule = self.rules.thresholds(r.tier, metric)
                if value >= rule.warning:
                    levels.add("warning")
                if value >= rule.critical:
                    levels.add("critical")
            for level in levels:
                counts[(r.tier, level)] += 1
            stopped[r.tier] += r.suspended_by is not None
        for (tier, level), n in sorted(counts.items()):
            over.add_metric([tier, level], n)
        for tier, n in sorted(stopped.items()):
            suspended.add_metric([tier], n)
        yield from (ratio, over, suspended)

        cycle = self.store.last_cycle()
        if cycle is not None:
            yield GaugeMetricFamily("neon_tenants_poll_cycle_duration_seconds",
                                    "duration of the last poll cycle", value=cycle.duration_seconds)
            requests = GaugeMetricFamily("neon_tenants_poll_requests",
                                         "API requests of the last cycle", labels=["route"])
            for route, n in sorted(cycle.requests.items()):
                requests.add_metric([route], n)
            yield requests
            yield GaugeMetricFamily("neon_tenants_poll_consumption_requests",
                                    "consumption v2 requests of the last cycle",
                                    value=cycle.consumption_requests)  # fmt: skip
        failures = sum(1 for d in self.store.deliveries() if d.sink == "webhook" and not d.ok)
        yield CounterMetricFamily("neon_tenants_webhook_failures",
                                  "failed webhook delivery attempts", value=failures)


def registry_for(store: UsageStore, rules: AlertRules | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(UsageCollector(store, rules))
    return registry


def serve_metrics(
    store: UsageStore, port: int, addr: str = "127.0.0.1", rules: AlertRules | None = None
) -> tuple[WSGIServer, Thread]:
    """`/metrics` on addr:port (0 picks a free port: read it from server.server_port)."""
    return start_http_server(port, addr, registry_for(store, rules))
