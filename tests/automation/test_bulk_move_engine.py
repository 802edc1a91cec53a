"""Bulk tier moves: <= 400 projects per transfer request (counted by the emulator), 422
mapped to an error naming the projects, and a full move through the engine. Metadata
emulator of its own (no rate limits, instant operations: 401 projects are made quickly)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.automation import TransferBlocked
from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials
from neon_tenants.client.models.projects import ProjectCreate
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

from .conftest import Recorder, make_manager

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from neon_emulator.testing import EmulatorProcess

    config = {"compute": "metadata", "rate_limits": {"enabled": False}, "op_duration_ms": 0}
    with EmulatorProcess(tmp_path_factory.mktemp("bulk-emu"), config=config) as e:
        yield e


def _client(emu: Any, **config: Any) -> NeonClient:
    return NeonClient(
        NeonCredentials.from_file(emu.credentials_file),
        ClientConfig(base_url=emu.base_url, rate_limit_enabled=False, **config),
    )


def _transfers(emu: Any) -> int:
    counters = emu.admin("GET", "state")["requests"]
    return sum(n for route, n in counters.items() if route.endswith("/projects/transfer"))


def _bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "fleets").glob("*.yaml"))}


def test_a_401_project_bulk_move_uses_two_transfer_requests(emu: Any, tmp_path: Path) -> None:
    with _client(emu) as client:
        org = client.org("free")
        ids = [org.create_project(ProjectCreate(name=f"nt-bulk-{i:03d}")).project.id
               for i in range(401)]
        fm = make_manager(tmp_path, emu, Recorder(), client=client, archive=False)
        tenants = tuple(TenantSpec(id=f"bulk-{i:03d}", adopt_project_id=pid)
                        for i, pid in enumerate(ids))
        save_fleet(fm.fleet_path("free"), FleetSpec(tier="free", tenants=tenants))
        before = _transfers(emu)
        result = fm.move_many([t.id for t in tenants], "pro", apply=False)
        assert _transfers(emu) - before == 2 == result.transfer_requests
        assert len(result.moved) == 401 and result.stacks == ["pro"]
        assert fm.fleet("free").tenants == ()
        moved = fm.fleet("pro").tenants
        assert [t.adopt_project_id for t in moved] == ids
        paid = {p.id for p in client.org("paid").iter_projects()}
        assert set(ids) <= paid
        # a rerun finds everything moved: no request at all
        again = fm.move_many([t.id for t in tenants], "pro", apply=False)
        assert again.moved == [] and _transfers(emu) - before == 2


def test_bulk_move_through_the_engine_batches_and_names_blocked_projects(
    emu: Any, tmp_path: Path
) -> None:
    with _client(emu, transfer_chunk_size=2) as client:
        fm = make_manager(tmp_path, emu, Recorder(), client=client, archive=False)
        names = ["mv-1", "mv-2", "mv-3"]
        save_fleet(fm.fleet_path("free"),
                   FleetSpec(tier="free", tenants=tuple(TenantSpec(id=t) for t in names)))
        fm.up("free")
        conns = fm.connections("free")
        blocked = conns["mv-1"].project_id
        emu.admin("POST", f"projects/{blocked}/integration", {"integration": "github"})
        files, before = _bytes(tmp_path / "stacks"), _transfers(emu)
        with pytest.raises(TransferBlocked) as info:
            fm.move_many(names, "pro")
        assert info.value.http_status == 422
        assert blocked in str(info.value) and "mv-1" in str(info.value)
        assert _bytes(tmp_path / "stacks") == files  # the refused first batch changed nothing
        assert client.org("free").get_project(blocked).org_id == client.org("free").org_id

        emu.admin("POST", f"projects/{blocked}/integration", {"integration": None})
        before = _transfers(emu)
        result = fm.move_many(names, "pro")
        assert result.transfer_requests == 2 == _transfers(emu) - before  # 2 + 1 projects
        assert sorted(result.connections) == names
        for t in names:
            assert result.connections[t].project_id == conns[t].project_id
            assert result.connections[t].org_id == client.org("paid").org_id
        state = fm.engine.workspace.export_stack("free").deployment["resources"]
        assert not [r for r in state if any(f"::{t}" in r["urn"] for t in names)]
        diff = fm.preview(["free", "pro"])
        assert diff.exit_code == 0, diff.to_markdown()
