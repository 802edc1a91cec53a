"""FleetManager's wiring: the catalog, the fleet store, the shard runner, the Neon client.

The operations (`_manager.py`) are written against three parts given to them here, each
with one job (STYLE.md review step 2): the fleet **store** (`_store.py`, per tenant), the
**shard runner** (`_runner.py`, engine operations on one stack) and the Neon client for the
imperative steps. A tenant's place is resolved once into a `Placement` and passed down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from pydantic import BaseModel

from neon_tenants.automation._backend_locks import BackendLock
from neon_tenants.automation._errors import (
    InvalidRequest,
    TenantNotFound,
    translate,
)
from neon_tenants.automation._locks import shard_lock
from neon_tenants.automation._parallel import default_workers
from neon_tenants.automation._runner import ShardRunner, guard
from neon_tenants.automation._store import FileFleetStore, FleetStore, Placement
from neon_tenants.automation._workspace import Engine, engine_env
from neon_tenants.automation.events import ProgressCallback, ProgressEvent, StackProgress
from neon_tenants.automation.models import TenantConnection
from neon_tenants.fleet.spec import FleetSpec
from neon_tenants.tenant import TenantInvalid, TenantSpec, require_valid

M = TypeVar("M", bound=BaseModel)

if TYPE_CHECKING:
    from neon_tenants.archive import ArchiveSettings
    from neon_tenants.catalog import Catalog, Limits, Tier
    from neon_tenants.client import NeonClient
    from neon_tenants.db.store import PostgresFleetStore
    from neon_tenants.fleet.store_choice import StoreChoice


class FleetCore:
    """Shared state and the helpers FleetManager's operations are built from."""

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
        store: FleetStore | None = None,
        workers: int | None = None,
        run_here: bool = False,
    ) -> None:
        self.stacks_dir = Path(stacks_dir)
        # PostgreSQL mode, but the engine runs in THIS process and nothing is queued: what a
        # worker uses to run a queued operation (jobs/_op_run.py); rows it applies end `ready`
        self.run_here = run_here
        # shards run in parallel in whole-tier up/preview (on_event is then called from
        # several threads); 1 runs them one after the other
        self.workers = workers if workers is not None else default_workers()
        self.work_dir = Path(work_dir) if work_dir else self.stacks_dir.parent
        self.lock_dir = Path(lock_dir) if lock_dir else self.work_dir / ".state" / "locks"
        self.on_event = on_event
        self.default_shards = dict(default_shards or {})
        self._neon_env = dict(neon_env or {})
        self.store_choice = self._choose_store()
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
        self.store: FleetStore = store or self._default_store()
        self.runner = ShardRunner(
            lambda: self.engine, lambda: self.catalog, self.store, self._emit, self.archive
        )

    _owned_rows: PostgresFleetStore | None = None

    def _choose_store(self) -> StoreChoice:
        """The tiers' stack config decides (fleet/store_choice.py, the rule every part
        uses); the database URL comes from the environment only."""
        import os

        from neon_tenants.fleet.store_choice import StoreConfigError, fleet_store

        try:
            return fleet_store(self.stacks_dir, {**os.environ, **self._neon_env})
        except StoreConfigError as exc:
            raise InvalidRequest(str(exc)) from None

    def _default_store(self) -> FleetStore:
        """Fleet files, or the PostgreSQL rows when the tiers' stack config says postgres
        (or defaults to it: fleet/store_choice.py) (issue 11)."""
        url = self.store_choice.url
        if url is None:
            return FileFleetStore(self.stacks_dir, self.lock_dir, self.default_shards)
        from neon_tenants.db.fleet_view import PostgresFleetView  # imports this package
        from neon_tenants.db.store import PostgresFleetStore

        self._owned_rows = PostgresFleetStore(url.conninfo(), max_size=2)
        return PostgresFleetView(self._owned_rows, self.default_shards,
                                 on_pending=self._shard_pending)

    def _shard_pending(self, tier: str, shard: int) -> None:
        """A whole-fleet edit made rows of this shard pending (PostgreSQL store): the queue
        side (`_queued.py`) queues its run; in-process, the caller's `up` applies them."""

    @property
    def lock_conninfo(self) -> str | None:
        """The PostgreSQL store's database (its shard locks are advisory locks there, seen
        by every host); None with fleet files (the lock files serve one host)."""
        rows = getattr(self.store, "rows", None)
        conninfo = getattr(rows, "conninfo", None)
        return conninfo if isinstance(conninfo, str) else None

    def _reshard_guard(self, tier: str) -> AbstractContextManager[None]:
        """PostgreSQL store: the tier's lock, shared (`reshard` holds it exclusive), so a
        whole-tier `up`/`destroy` never runs beside a half-moved tier; fleet files have no
        reshard, so nothing to hold."""
        rows = getattr(self.store, "rows", None)
        tier_lock = getattr(rows, "tier_lock", None)
        if tier_lock is None:
            return nullcontext()
        held: AbstractContextManager[None] = tier_lock(tier, exclusive=False)
        return held

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
        """The same catalog `pulumi up -s <tier>` loads (catalog/source.py)."""
        if self._catalog is None:
            from neon_tenants.catalog import stack_catalog

            with guard():
                self._catalog = stack_catalog(self.stacks_dir)
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
            rows, self._owned_rows = self._owned_rows, None
        if rows is not None:
            rows.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _lock_cleared(self, lock: BackendLock) -> None:
        self._emit(StackProgress(lock.stack, "stale_lock_cleared", lock.describe()))

    def _emit(self, event: ProgressEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- tiers, fleets, placements -----------------------------------------------------------

    def _tier(self, name: str) -> Tier:
        tier = self.catalog.tiers.get(name)
        if tier is None:
            known = ", ".join(sorted(self.catalog.tiers))
            raise InvalidRequest(f"tier: unknown tier {name!r}; allowed: {known}", field="tier")
        return tier

    def _limits(self, tier: Tier) -> Limits:
        from neon_tenants.catalog import Limits

        return Limits.of(tier, self.catalog.org_limits(tier))

    def fleet_path(self, tier: str) -> Path:
        return self.stacks_dir / "fleets" / f"{tier}.yaml"

    def fleet(self, tier: str) -> FleetSpec:
        self._tier(tier)
        with guard():
            return self.store.load(tier)

    def placement(self, tier: str, tenant: str) -> Placement:
        self._tier(tier)
        with guard():
            return self.store.placement(tier, tenant)

    def _placements(self, tenant: str) -> list[tuple[Placement, TenantSpec]]:
        """Where the tenant is listed: one placement, or two while a move is unfinished."""
        with guard():
            found = self.store.locate(tenant)
        return [(p, s) for p, s in found if p.tier in self.catalog.tiers]

    def _where(self, tenant: str) -> tuple[Placement, TenantSpec]:
        found = self._placements(tenant)
        if not found:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return found[0]

    def locate_all(self, tenant: str) -> list[tuple[FleetSpec, TenantSpec]]:
        """Every tier fleet listing the tenant: one, or two while a move is unfinished.
        Each fleet is the tier's shape and fleet-level fields with the tenant's SHARD only
        (the PostgreSQL store reads that shard's rows, not the whole tier)."""
        with guard():
            return [(self.store.load(p.tier, p.shard), s) for p, s in self._placements(tenant)]

    def locate(self, tenant: str) -> tuple[FleetSpec, TenantSpec] | None:
        """Which tier's fleet lists the tenant (the store is the source of truth)."""
        found = self.locate_all(tenant)
        return found[0] if found else None

    def _require(self, tenant: str) -> tuple[FleetSpec, TenantSpec]:
        found = self.locate(tenant)
        if found is None:
            raise TenantNotFound(f"tenant {tenant!r} is in no fleet")
        return found

    def _edit_fleet(self, tier: str, edit: Callable[[FleetSpec], FleetSpec]) -> FleetSpec:
        """A whole-fleet edit (fleet-level fields such as the app revision), atomic in the
        store; tenant edits go through `store.put`/`store.delete` instead."""
        editor = getattr(self.store, "edit", None)
        if editor is None:
            raise InvalidRequest(f"the fleet store cannot edit tier {tier}'s fleet as a whole")
        with guard():
            result: FleetSpec = editor(tier, edit)
        return result

    def stack_of(self, fleet: FleetSpec | Placement, tenant: str) -> str:
        if isinstance(fleet, Placement):
            return fleet.stack
        return Placement.of(fleet.tier, fleet.shards, tenant).stack

    # -- the old core's entry points, kept for code written against them (audit) ----------

    def _guard(self, stack: str | None = None) -> Any:
        return guard(stack)

    def _up(
        self, tier: str, tenant: str | None = None, shard: int | None = None,
        first_attempt: frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """`up` the shard of `tenant` (or `shard`) through the runner (caller holds the lock)."""
        if tenant is not None:
            shard = self.placement(tier, tenant).shard
        return self.runner.up(tier, shard, first_attempt)

    # -- validation (before any write or API call) ---------------------------------------

    def _validate(
        self,
        spec: TenantSpec,
        tier: str,
        *,
        before: TenantSpec | None = None,
        extra_branches: int = 0,
    ) -> TenantSpec:
        """The tenant rules of its tier, or InvalidRequest (422) naming every field."""
        model = self._tier(tier)
        try:
            return require_valid(spec, model, self._limits(model), before=before,
                                 extra_branches=extra_branches)
        except TenantInvalid as exc:
            raise InvalidRequest(
                str(exc), tier=tier,
                failures=[{"field": f.property, "reason": f.reason} for f in exc.failures],
            ) from exc

    @staticmethod
    def _build(tier: str, make: Callable[[], M]) -> M:
        """Construct a tenant model from request values; shape errors become 422s."""
        from pydantic import ValidationError

        try:
            return make()
        except ValidationError as exc:
            fields = [
                {"field": ".".join(str(p) for p in e["loc"]) or "(request)", "reason": e["msg"]}
                for e in exc.errors()
            ]
            text = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
            raise InvalidRequest(f"invalid request for tier {tier}: {text}", tier=tier,
                                 failures=fields) from None
        except (ValueError, KeyError) as exc:
            raise InvalidRequest(f"invalid request for tier {tier}: {exc}", tier=tier) from None

    # -- outputs -----------------------------------------------------------------------------

    def _outputs(self, stack: str) -> dict[str, Any]:
        return self.runner.outputs(stack)

    def _connection(
        self, outputs: Mapping[str, Any], where: Placement, tenant: str
    ) -> TenantConnection:
        value = outputs.get(tenant)
        if not value:
            raise TenantNotFound(f"tenant {tenant!r} has no outputs in its stack yet")
        return TenantConnection.from_output(tenant, where.tier, where.stack, value)

    def _change(
        self,
        tenant: str,
        edit: Callable[[TenantSpec], TenantSpec],
        *,
        extra_branches: Callable[[TenantSpec], int] | None = None,
    ) -> TenantConnection:
        """Edit one tenant's entry and `up` its shard, under the shard lock; the edit is
        validated against the tier BEFORE the store is written."""
        where, _ = self._where(tenant)
        with shard_lock(self.lock_dir, where.stack, self.lock_conninfo):
            self._emit(StackProgress(where.stack, "locked"))
            with guard(where.stack):
                spec = self.store.get(where.tier, tenant)
            if spec is None:
                raise TenantNotFound(f"tenant {tenant!r} left the fleet meanwhile")
            new = self._build(where.tier, lambda: edit(spec))
            # the pure rules first (no API call for a request that is wrong anyway), then
            # the cap again counting the branches Neon has beyond the declared ones
            self._validate(new, where.tier, before=spec)
            if extra_branches is not None:
                extra = extra_branches(new)
                if extra:
                    self._validate(new, where.tier, before=spec, extra_branches=extra)
            if new != spec:
                with guard(where.stack):
                    self.store.put(where.tier, new)
                self._emit(StackProgress(where.stack, "fleet_written"))
            outputs = self.runner.up(where.tier, where.shard, tenant=tenant, before=spec)
        return self._connection(outputs, where, tenant)
