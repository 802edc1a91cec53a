"""Bulk tier moves: one `FleetManager.move_many` of N tenants (<= 400 projects per transfer
request) against the same tenants moved one call each, measured side by side in one run on
the metadata emulator (rate limits off). The engine `up` of the target shards is left out
(`apply=False`): what is measured is the transfer + fleet bookkeeping per tenant.

Run: `python -m benchmarks.bench_bulk_move [--bulk 401] [--single 40]`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials
from neon_tenants.client.models.projects import ProjectCreate
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from ._fleet_harness import CONFIG, requests_by_route

TRANSFER = "/projects/transfer"


def _seed(client: NeonClient, fm: Any, prefix: str, n: int) -> list[str]:
    org = client.org("free")
    ids = [org.create_project(ProjectCreate(name=f"nt-{prefix}-{i:03d}")).project.id
           for i in range(n)]
    names = [f"{prefix}-{i:03d}" for i in range(n)]
    fleet = fm.fleet("free")
    for name, pid in zip(names, ids, strict=True):
        fleet = fleet.with_tenant(TenantSpec(id=name, adopt_project_id=pid))
    save_fleet(fm.fleet_path("free"), fleet)
    return names


def _transfers(emu: Any) -> int:
    return sum(n for r, n in requests_by_route(emu).items() if r.endswith(TRANSFER))


def main() -> None:
    from neon_emulator.testing import EmulatorProcess
    from neon_tenants.automation import FleetManager

    parser = argparse.ArgumentParser()
    parser.add_argument("--bulk", type=int, default=401)
    parser.add_argument("--single", type=int, default=40)
    args = parser.parse_args()
    config = {**CONFIG, "op_duration_ms": 0}
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(Path(tmp) / "emu",
                                                                config=config) as emu:
        creds = NeonCredentials.from_file(emu.credentials_file)
        with NeonClient(creds, ClientConfig(base_url=emu.base_url,
                                            rate_limit_enabled=False)) as client:
            fm = FleetManager(Path(tmp) / "stacks", work_dir=Path(tmp) / "work",
                              backend_url=f"file://{Path(tmp) / 'state'}",
                              lock_dir=Path(tmp) / "locks", neon_env=emu.client_env,
                              client=client, archive=False)
            save_fleet(fm.fleet_path("free"), FleetSpec(tier="free"))
            single = _seed(client, fm, "one", args.single)
            before, t = _transfers(emu), time.perf_counter()
            for name in single:
                fm.move_many([name], "pro", apply=False)
            one_ms = (time.perf_counter() - t) * 1000 / len(single)
            one_req = _transfers(emu) - before
            print(json.dumps({"name": "move_one_per_call", "n": len(single),
                              "ms_per_tenant": round(one_ms, 2),
                              "transfer_requests": one_req}), flush=True)
            bulk = _seed(client, fm, "bulk", args.bulk)
            before, t = _transfers(emu), time.perf_counter()
            result = fm.move_many(bulk, "pro", apply=False)
            bulk_ms = (time.perf_counter() - t) * 1000 / len(bulk)
            print(json.dumps({"name": "move_many", "n": len(bulk),
                              "ms_per_tenant": round(bulk_ms, 2),
                              "transfer_requests": _transfers(emu) - before,
                              "moved": len(result.moved),
                              "ratio": round(bulk_ms / one_ms, 3)}), flush=True)


if __name__ == "__main__":
    main()
