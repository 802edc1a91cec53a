"""Client overhead per call: NeonClient.get_project vs raw httpx on the same MockTransport.

Run: `python -m benchmarks.bench_client_overhead [N]`. Prints one JSON line per figure
(per-call microseconds p50/p95/mean, and the ratio to raw httpx measured in the same run).
The transport answers from memory, so the figures isolate the client's own work: request id,
auth header, retry loop, rate limiter, JSON decode and pydantic parsing.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, OrgCredential

BASE = "http://127.0.0.1:9/api/v2"
PROJECT = {
    "id": "proj-1", "platform_id": "aws", "region_id": "aws-us-east-2", "name": "nt-acme",
    "provisioner": "k8s-neonvm", "pg_version": 17, "proxy_host": "x", "store_passwords": True,
    "branch_logical_size_limit": 512, "branch_logical_size_limit_bytes": 536870912,
    "cpu_used_sec": 0, "creation_source": "console", "history_retention_seconds": 86400,
    "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
    "owner_id": "o", "org_id": "org-1", "active_time_seconds": 0, "compute_time_seconds": 0,
    "written_data_bytes": 0, "data_transfer_bytes": 0, "data_storage_bytes_hour": 0,
    "consumption_period_start": "2026-01-01T00:00:00Z",
    "consumption_period_end": "2026-02-01T00:00:00Z",
    "settings": {"quota": {"active_time_seconds": 360000}},
}
BODY = json.dumps({"project": PROJECT}).encode()


def _handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=BODY, headers={"content-type": "application/json"})


def _time(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(200, n)):  # warm-up
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _line(name: str, samples: list[float], baseline: float | None) -> dict[str, object]:
    ordered = sorted(samples)
    mean = statistics.fmean(samples)
    return {
        "name": name, "n": len(samples),
        "p50_us": round(ordered[len(ordered) // 2], 1),
        "p95_us": round(ordered[int(len(ordered) * 0.95)], 1),
        "mean_us": round(mean, 1),
        "ratio_to_raw": round(mean / baseline, 2) if baseline else 1.0,
    }


def main(n: int = 3000) -> None:
    creds = NeonCredentials(orgs={"free": OrgCredential(id="org-1", api_key=SecretStr("k"))})
    raw = httpx.Client(base_url=BASE, transport=httpx.MockTransport(_handler))
    headers = {"Authorization": "Bearer k", "X-Request-ID": "r"}

    def raw_call() -> object:
        return raw.get("/projects/proj-1", headers=headers).json()

    off = NeonClient(creds, ClientConfig(base_url=BASE, rate_limit_enabled=False),
                     transport=httpx.MockTransport(_handler))
    on = NeonClient(creds, ClientConfig(base_url=BASE, requests_per_minute=10**9,
                                        route_requests_per_second=10**9),
                    transport=httpx.MockTransport(_handler))
    base = _time(raw_call, n)
    baseline = statistics.fmean(base)
    print(json.dumps(_line("raw_httpx_get_json", base, None)))
    org_off, org_on = off.org("free"), on.org("free")
    print(json.dumps(_line("client_get_project_no_limiter",
                           _time(lambda: org_off.get_project("proj-1"), n), baseline)))
    print(json.dumps(_line("client_get_project_with_limiter",
                           _time(lambda: org_on.get_project("proj-1"), n), baseline)))
    raw.close()
    off.close()
    on.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
