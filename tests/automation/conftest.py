"""Engine fixtures for the automation tests: one FleetManager per module, on a tmp backend,
stacks dir and work dir, bound to a shared emulator (no per-test deploy/destroy)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from neon_tenants.automation import FleetManager, ProgressEvent


class Recorder:
    """Collects FleetManager progress events (the callback a backend would pass)."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)


def make_manager(root: Path, emu: Any, recorder: Recorder, **kw: Any) -> FleetManager:
    return FleetManager(
        root / "stacks",
        work_dir=root / "work",
        backend_url=f"file://{root / 'state'}",
        lock_dir=root / "locks",
        neon_env=emu.client_env,
        on_event=recorder,
        **kw,
    )


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def meta_fleet(
    metadata_emulator: Any, tmp_path_factory: pytest.TempPathFactory, recorder: Recorder
) -> Iterator[FleetManager]:
    root = tmp_path_factory.mktemp("fleet-meta")
    # no archive step: the metadata emulator has no database to dump
    yield make_manager(
        root, metadata_emulator, recorder, default_shards={"free": 3, "pro": 2}, archive=False
    )


@pytest.fixture(scope="module")
def pg_fleet(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetManager]:
    """A FleetManager on the real-Postgres emulator (one per test module)."""
    with make_manager(tmp_path_factory.mktemp("fleet-pg"), emulator, Recorder()) as fleet:
        yield fleet


def connect(uri: str) -> psycopg.Connection[Any]:
    """Connect, retrying while a compute wakes up or an endpoint is re-attached."""
    last: Exception | None = None
    for _ in range(60):
        try:
            return psycopg.connect(uri, connect_timeout=10, autocommit=True)
        except psycopg.OperationalError as exc:
            last = exc
            time.sleep(0.5)
    raise AssertionError(f"no connection: {type(last).__name__}")


def neon_client(emu: Any) -> Any:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    return NeonClient(
        NeonCredentials.from_file(emu.credentials_file), ClientConfig(base_url=emu.base_url)
    )
