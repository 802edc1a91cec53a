"""Several "hosts" on one database, for the PostgreSQL-mode tests: `neon-tenants worker`
processes, each with its own work dir and HOME, sharing only the database and the emulator
(used by test_queue_engine.py and test_queued_operations.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from neon_tenants.catalog import load_catalog
from neon_tenants.db.schema import migrate
from neon_tenants.db.store import PostgresFleetStore
from neon_tenants.jobs import ShardQueue

PASSPHRASE = "queue-test-secret"


class Platform:
    def __init__(
        self, url: str, emu: Any, root: Path, *, shards: int = 3,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.url, self.emu, self.root, self.shards = url, emu, root, shards
        self.extra_env = dict(extra_env or {})
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, name: str) -> dict[str, str]:
        home = self.root / name / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != "PULUMI_BACKEND_URL"}
        env.update(self.emu.client_env)
        env.update({
            "HOME": str(home),
            "NEON_TENANTS_DATABASE_URL": self.url,
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "NEON_TENANTS_WORK_DIR": str(self.root / name / "work"),
            # the host's own checkout, no fleet files: its tiers use postgres (store_choice)
            "NEON_TENANTS_STACKS_DIR": str(self.root / name / "stacks"),
            "NEON_TENANTS_ARCHIVE": "off",  # the metadata emulator has no database to dump
        })
        env.update(self.extra_env)
        return env

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        exe = str(Path(sys.executable).parent / "neon-tenants")
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [exe, "worker", "--heartbeat", "1", "--stalled-after", "4", "--recover-every", "1"],
            env=self.env(name), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.workers[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def replica(self) -> ShardQueue:
        store = PostgresFleetStore(self.url, max_size=2)
        return ShardQueue(store, self.url, load_catalog(),
                          default_shards={"free": self.shards})

    def logs(self) -> str:
        return "\n".join(
            f"== {n}\n" + (self.root / f"{n}.log").read_text(errors="replace")[-3000:]
            for n in self.workers
        )


@contextlib.contextmanager
def hosts(
    fresh_db: Any, emu: Any, tmp_path_factory: pytest.TempPathFactory, *, shards: int = 3,
    workers: int = 2, extra_env: Mapping[str, str] | None = None,
) -> Iterator[Platform]:
    """A migrated database and `workers` worker processes ("w1", "w2", ...)."""
    url = fresh_db()
    migrate(url)
    p = Platform(url, emu, tmp_path_factory.mktemp("hosts"), shards=shards,
                 extra_env=extra_env)
    for i in range(workers):
        p.start_worker(f"w{i + 1}")
    try:
        yield p
    finally:
        p.stop()


def projects(emu: Any, org: str = "free") -> list[Any]:
    """The org's projects, read from the emulator's API."""
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    client = NeonClient(
        NeonCredentials.from_file(emu.credentials_file), ClientConfig(base_url=emu.base_url)
    )
    try:
        return list(client.org(org).iter_projects())
    finally:
        client.close()
