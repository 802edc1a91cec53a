"""FleetManager's plumbing: fleet files, locks, the engine, outputs (one shard at a time).

Kept apart from `_manager.py` (the API the backend calls) so each module has one job;
see `_manager.py` for the design of tier moves and why every call touches one shard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from neon_tenants.automation._backend_locks import BackendLock
from neon_tenants.automation._errors import (
    FleetError,
    InvalidRequest,
    TenantNotFound,
    translate,
)
from neon_tenants.automation._locks import retry_concurrent, shard_lock
from neon_tenants.automation._workspace import Engine, engine_env
from neon_tenants.automation.events import (
    ProgressCallback,
    ProgressEvent,
    StackProgress,
    from_engine_event,
)
from neon_tenants.automation.models import TenantConnection
from neon_tenants.fleet.program import build_program
from neon_tenants.fleet.sharding import shard_for, stack_name
from neon_tenants.fleet.spec import (
    FleetSpec,
    TenantSpec,
    load_fleet,
    save_fleet,
)

if TYPE_CHECKING:
    from neon_tenants.archive import ArchiveSettings
    from neon_tenants.catalog import Catalog, Tier
    from neon_tenants.client import NeonClient


class FleetCore:
    """Shared state and the one-shard primitives FleetManager's operations are built from."""

    def __init__(
        self,
        stacks_dir: Path,
        *,
        work_dir: Path | None = None,
        backend_url: str | None = None,
        lock_dir: Path | None = None,
        catalog: Catalog | None = None,
        neon_env: Mapping[str, str] | None = None,
        client: NeonClient | None = None,
        on_event: ProgressCallback | None = None,
        default_shards: Mapping[str, int] | None = None,
        archive: ArchiveSettings | bool = True,
    ) -> None:
        self.stacks_dir = Path(stacks_dir)
        self.work_dir = Path(work_dir) if work_dir else self.stacks_dir.parent
        self.lock_dir = Path(lock_dir) if lock_dir else self.work_dir / ".state" / "locks"
        self.on_event = on_event
        self.default_shards = dict(default_shards or {})
        self._neon_env = dict(neon_env or {})
        overrides = dict(self._neon_env)
        if backend_url:
            overrides["PULUMI_BACKEND_URL"] = backend_url
            if backend_url.startswith("file://"):
                Path(backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
        self._env_overrides = overrides
        try:  # misconfigured secrets (shared backend + built-in passphrase) fail before any write
            self._engine_env = engine_env(overrides)
        except Exception as exc:
            raise translate(exc) from exc
        self.backend_url = backend_url
        self._catalog = catalog
        self._client = client
        self._owns_client = client is None  # one we build, we close; a passed one is the caller's
        self._engine: Engine | None = None
        self.archive = self._archive_settings(archive)
        self._init_lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------

    def _archive_settings(self, archive: ArchiveSettings | bool) -> ArchiveSettings | None:
        """True: the defaults (env, else `<work_dir>/.state/archive` with pg_dump); False: no
        archive step (a metadata-only emulator has no database to dump)."""
        if archive is False:
            return None
        if archive is True:
            import os

            from neon_tenants.archive.resource import settings_from_env

            return settings_from_env(self.work_dir, {**os.environ, **self._neon_env})
        return archive

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            from neon_tenants.catalog import load_catalog

            tiers = self.stacks_dir / "tiers.yaml"
            self._catalog = load_catalog(tiers if tiers.exists() else None)
        return self._catalog

    @property
    def engine(self) -> Engine:
        with self._init_lock:
            if self._engine is None:
                try:
                    self._engine = Engine(
                        self.work_dir,
                        self._engine_env,
                        on_lock_cleared=self._lock_cleared,
                    )
                except Exception as exc:
                    raise translate(exc) from exc
            return self._engine

    @property
    def client(self) -> NeonClient:
        with self._init_lock:
            if self._client is None:
                import os

                from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

                env = {**os.environ, **self._neon_env}
                base = env.get("NEON_API_BASE_URL") or ClientConfig().base_url
                self._client = NeonClient(
                    NeonCredentials.from_env(env), ClientConfig(base_url=base)
                )
            return self._client

    def close(self) -> None:
        """Close the Neon client this manager built (its pooled connections); idempotent."""
        with self._init_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _lock_cleared(self, lock: BackendLock) -> None:
        self._emit(StackProgress(lock.stack, "stale_lock_cleared", lock.describe()))

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _tier(self, name: str) -> Tier:
        tier = self.catalog.tiers.get(name)
        if tier is None:
            known = ", ".join(sorted(self.catalog.tiers))
            raise InvalidRequest(f"unknown tier {name!r}; known tiers: {known}")
        return tier

    def fleet_path(self, tier: str) -> Path:
        return self.stacks_dir / "fleets" / f"{tier}.yaml"

    def fleet(self, tier: str) -> FleetSpec:
        self._tier(tier)
        return load_fleet(self.fleet_path(tier), tier=tier, shards=self.default_shards.get(tier, 1))

    def _edit_fleet(self, tier: str, edit: Callable[[FleetSpec], FleetSpec]) -> FleetSpec:
        with shard_lock(self.lock_dir, f"fleet-{tier}"):
            before = self.fleet(tier)
            after = edit(before)
            if after != before:
                save_fleet(self.fleet_path(tier), after)
        return after

    def locate_all(self, tenant: str) -> list[tuple[FleetSpec, TenantSpec]]:
        """Every tier fleet listing the tenant: one, or two while a move is unfinished."""
        found: list[tuple[FleetSpec, TenantSpec]] = []
        for tier in sorted(self.catalog.tiers):
            if self.fleet_path(tier).exists():
                fleet = self.fleet(tier)
                spec = fleet.get(tenant)
                if spec is not None:
                    found.append((fleet, spec))
        return found

    def locate(self, tenant: str) -> tuple[FleetSpec, TenantSpec] | None:
        """Which tier's fleet lists the tenant (fleet files are the source of truth)."""
        found = self.locate_all(tenant)
        return found[0] if found else None

    def _require(self, tenant: str) -> tuple[FleetSpec, TenantSpec]:
        found = self.locate(tenant)
        if found is None:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return found

    @staticmethod
    def stack_of(fleet: FleetSpec, tenant: str) -> str:
        return stack_name(fleet.tier, shard_for(fleet, tenant), fleet.shards)

    @contextmanager
    def _guard(self, stack: str | None = None) -> Iterator[None]:
        try:
            yield
        except FleetError:
            raise
        except Exception as exc:
            raise translate(exc, stack=stack) from exc

    def _up(
        self, tier: str, tenant: str | None = None, shard: int | None = None,
        first_attempt: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """`up` one shard from the fleet file as it is now (caller holds the shard lock)."""
        fleet = self.fleet(tier)
        if tenant is not None:
            shard = shard_for(fleet, tenant)
        name = stack_name(tier, shard, fleet.shards)
        program = build_program(
            tier, shard, fleet, self.catalog, self.archive, first_attempt
        )

        def forward(event: Any) -> None:
            step = from_engine_event(name, event)
            if step is not None:
                self._emit(step)

        def attempt() -> Any:
            stack = self.engine.stack(name)
            return stack.up(program=program, on_event=forward, color="never")

        def on_retry(n: int, exc: BaseException) -> None:
            self._emit(StackProgress(name, "retry", f"stack busy, retry {n}"))

        self._emit(StackProgress(name, "engine_started", "up"))
        with self._guard(name):
            result = retry_concurrent(attempt, on_retry=on_retry)
        self._emit(StackProgress(name, "engine_done", "up"))
        return {k: v.value for k, v in result.outputs.items()}

    def _outputs(self, stack: str) -> dict[str, Any]:
        from pulumi.automation.errors import StackNotFoundError

        try:
            with self._guard(stack):
                return self.engine.outputs(stack)
        except FleetError as exc:
            if isinstance(exc.__cause__, StackNotFoundError):
                return {}
            raise

    def _connection(
        self, outputs: Mapping[str, Any], fleet: FleetSpec, tenant: str
    ) -> TenantConnection:
        value = outputs.get(tenant)
        if not value:
            raise TenantNotFound(f"tenant {tenant!r} has no outputs in its stack yet")
        return TenantConnection.from_output(tenant, fleet.tier, self.stack_of(fleet, tenant), value)

    def _change(self, tenant: str, edit: Callable[[TenantSpec], TenantSpec]) -> TenantConnection:
        """Edit one tenant's fleet entry and `up` its shard, under the shard lock."""
        fleet, _ = self._require(tenant)
        stack = self.stack_of(fleet, tenant)
        with shard_lock(self.lock_dir, stack):
            self._emit(StackProgress(stack, "locked"))

            def apply(f: FleetSpec) -> FleetSpec:
                spec = f.get(tenant)
                if spec is None:
                    raise TenantNotFound(f"tenant {tenant!r} left the fleet meanwhile")
                return f.with_tenant(edit(spec))

            try:
                fleet = self._edit_fleet(fleet.tier, apply)
            except ValueError as exc:
                raise InvalidRequest(str(exc)) from exc
            self._emit(StackProgress(stack, "fleet_written"))
            outputs = self._up(fleet.tier, tenant)
        return self._connection(outputs, fleet, tenant)
