"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from neon_tenants.client._credentials import CREDENTIAL_ENV_VARS

REPO = Path(__file__).resolve().parent.parent

_SCRUB = ("NEON_API_KEY", "NEON_API_BASE_URL", *CREDENTIAL_ENV_VARS, "PULUMI_ACCESS_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches real Neon or Pulumi Cloud by accident."""
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)


def scratch_dir() -> str | None:
    """tmpfs when it has room (cluster copies are 10-20x faster there), else the default tmp."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 2 * 1024**3:
        return str(shm)
    return None


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real emulator server (subprocess) with real PostgreSQL behind branches."""
    from neon_emulator.testing import EmulatorProcess

    # Not under pytest's tmp root: pytest resets it to mode 0700 when another session starts,
    # which hides the clusters from the unprivileged `postgres` user. tmpfs when there is room.
    data_dir = Path(tempfile.mkdtemp(prefix="nemu-session-", dir=scratch_dir()))
    try:
        # A private endpoint port: another emulator on this machine (make run, a second test
        # session) may hold 127.1.0.1:5432 already.
        with EmulatorProcess(data_dir, config={"endpoint_port": free_port()}) as emu:
            yield emu
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def metadata_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An emulator with the metadata-only compute backend (no Postgres processes)."""
    from neon_emulator.testing import EmulatorProcess

    data_dir = tmp_path_factory.mktemp("emulator-meta")
    with EmulatorProcess(data_dir, config={"compute": "metadata"}) as emu:
        yield emu


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def pytest_report_header() -> str:
    return f"neon-tenants repo: {REPO} (CI={os.environ.get('CI', '')})"
