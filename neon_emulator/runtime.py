"""The running emulator: settings, state, backend and machinery, built once per app.

Kept apart from app.py so handlers receive one object (through deps.py) and tests can
build a runtime without a server.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import Counter

from neon_emulator.compute.backend import ComputeBackend
from neon_emulator.compute.metadata import MetadataBackend
from neon_emulator.compute.tls import Authority
from neon_emulator.engine.clock import Clock
from neon_emulator.engine.faults import Faults
from neon_emulator.engine.operations import OperationRunner, Step
from neon_emulator.engine.ratelimit import RateLimiter
from neon_emulator.settings import EmulatorSettings
from neon_emulator.store.persistence import Persister, load_world
from neon_emulator.store.records import World
from neon_emulator.store.state import Store
from neon_emulator.store.world import new_world, write_credentials

log = logging.getLogger("neon_emulator")


def make_backend(settings: EmulatorSettings) -> ComputeBackend:
    """`compute: postgres` must really be Postgres: an import failure stops startup."""
    if settings.compute == "metadata":
        return MetadataBackend()
    try:
        module = importlib.import_module("neon_emulator.compute.postgres")
    except ImportError as exc:
        raise RuntimeError(
            "compute: postgres needs neon_emulator.compute.postgres "
            f"(import failed: {exc}); use compute: metadata for a control-plane-only emulator"
        ) from exc
    backend: ComputeBackend = module.PostgresBackend(
        data_dir=settings.data_dir / "compute", endpoint_port=settings.endpoint_port,
        tls_dir=settings.tls_dir,
    )
    return backend


def recover_interrupted(world: World) -> None:
    """Operations cut off by a crash or kill never finish: mark them `error` and settle the
    states they were moving, so clients polling them get an answer instead of a timeout."""
    for op in world.operations.values():
        if op.status in ("scheduling", "running"):
            op.status = "error"
            op.error = "interrupted by an emulator restart"
    for b in world.branches.values():
        if b.pending_state is not None:
            b.current_state, b.pending_state = "ready", None
    for e in world.endpoints.values():
        if e.pending_state is not None:
            e.current_state, e.pending_state = "idle", None


class Runtime:
    def __init__(self, settings: EmulatorSettings, backend: ComputeBackend | None = None) -> None:
        self.settings = settings
        self.clock = Clock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        world = load_world(settings.state_file)
        fresh = world is None
        if world is None:
            world = new_world(settings, self.clock)
        self.store = Store(world)
        if not fresh:
            recover_interrupted(world)
        self.initial_key_ids = {k.id for k in world.keys.values()} if fresh else set()
        self.persister = Persister(settings.state_file, self.store.dump)
        self.backend: ComputeBackend = backend if backend is not None else make_backend(settings)
        self.runner = OperationRunner(
            self.store, self.clock, duration_ms=settings.op_duration_ms,
            workers=settings.op_workers, on_change=self.persister.mark_dirty,
        )
        self.ratelimiter = RateLimiter(settings.rate_limits)
        self.faults = Faults(settings.faults, seed=settings.fault_seed)
        self.counters: Counter[str] = Counter()
        self.counters_lock = threading.Lock()
        self.persister.flush()
        ca = Authority(settings.tls_dir).ensure()
        if not settings.ca_file.exists() or settings.ca_file.read_bytes() != ca.read_bytes():
            settings.ca_file.write_bytes(ca.read_bytes())  # next to credentials.json
        if fresh or not settings.credentials_file.exists():
            write_credentials(settings.credentials_file, world)
        if not self.initial_key_ids:
            self.initial_key_ids = {k.id for k in world.keys.values() if k.name in (
                "personal", *(f"{o.alias}-org-key" for o in world.orgs.values()))}

    def changed(self) -> None:
        self.persister.mark_dirty()

    def submit(self, project_id: str, steps: list[Step]) -> None:
        """Start a mutation's operations (after the store lock is released) and persist it."""
        self.runner.submit(project_id, steps)
        self.changed()

    def count(self, route: str) -> None:
        with self.counters_lock:
            self.counters[route] += 1

    def start(self) -> None:
        self.persister.start()
        self.reattach_computes()

    def reattach_computes(self) -> None:
        """After a restart, make every persisted endpoint reachable again and hand the backend
        each project's quota: the backend keeps endpoints in memory, branch data on disk, so
        connection URIs issued before the restart keep working (computes wake on connect)."""
        from neon_emulator.engine.provision import endpoint_spec, quota_policy

        with self.store.lock:
            projects = [p for p in self.store.world.projects.values() if p.deleted_at is None]
            live = {p.id for p in projects}
            endpoints = [e for e in self.store.world.endpoints.values() if e.project_id in live]
        for project in projects:
            self.backend.set_quota(project.id, quota_policy(project))
        for endpoint in endpoints:
            try:
                self.backend.register_endpoint(endpoint.project_id, endpoint_spec(self, endpoint))
            except Exception:  # one broken endpoint must not keep the emulator down
                log.exception("could not re-attach endpoint %s", endpoint.id)
            endpoint.current_state, endpoint.pending_state = "idle", None

    def replace_world(self, world: World) -> None:
        with self.store.lock:
            self.store.world = world
            self.store.reindex()
        self.persister.flush()

    def close(self) -> None:
        self.runner.shutdown()
        self.persister.stop()
        try:
            self.backend.shutdown()
        except Exception:  # shutdown must finish; the backend logs its own detail
            log.exception("backend shutdown failed")
