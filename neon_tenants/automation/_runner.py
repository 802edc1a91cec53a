"""The shard runner: the engine operations on ONE shard stack (up, preview, outputs, forget,
refresh, destroy), each inside the one error guard.

The program is built inside the guard too: a fleet entry that fails validation while the
program is built becomes an `InvalidRequest` (422), not a raw pydantic error (issue 10
item 1). Callers hold the shard lock; the runner knows nothing about tenants' lifecycles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from neon_tenants.automation import _lean
from neon_tenants.automation._errors import FleetError, translate
from neon_tenants.automation._locks import retry_concurrent
from neon_tenants.automation._nochange import state_of, unchanged
from neon_tenants.automation._scoped import scoped_up
from neon_tenants.automation.events import ProgressEvent, StackProgress, from_engine_event
from neon_tenants.fleet.program import (
    build_program,
    migration_of,
    record_of,
    shard_args,
    tenant_args,
)
from neon_tenants.fleet.sharding import stack_name

if TYPE_CHECKING:
    from neon_tenants.archive import ArchiveSettings
    from neon_tenants.automation._store import FleetStore
    from neon_tenants.automation._workspace import Engine
    from neon_tenants.catalog import Catalog
    from neon_tenants.fleet.spec import FleetSpec
    from neon_tenants.tenant import TenantSpec


@contextmanager
def guard(stack: str | None = None) -> Iterator[None]:
    """Every foreign error (engine, client, validation) leaves as a FleetError."""
    try:
        yield
    except FleetError:
        raise
    except Exception as exc:
        raise translate(exc, stack=stack) from exc


class ShardRunner:
    """Runs the one program for a shard of the fleet store, through one engine."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        catalog: Callable[[], Catalog],
        store: FleetStore,
        emit: Callable[[ProgressEvent], None],
        archive: ArchiveSettings | None = None,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self.store = store
        self.emit = emit
        self.archive = archive

    def up(
        self, tier: str, shard: int | None, first_attempt: frozenset[str] = frozenset(),
        *, tenant: str | None = None, before: TenantSpec | None = None,
        scope: Mapping[str, TenantSpec | None] | None = None,
        on_event: Callable[[Any], None] | None = None, continue_on_error: bool = False,
    ) -> dict[str, Any]:
        """`up` one shard from the store as it is now; returns the stack's outputs.
        `first_attempt`: tenants whose create was never sent (no list-by-name, issue 16).
        With `tenant`, only that tenant's resources take part (`_scoped.py`, issue 16):
        `before` is its entry before this change (None when new), so the children it lost
        are targeted and deleted. `scope` does the same for several tenants of the shard at
        once (tenant -> entry before; a rollout wave, issue 12). `on_event` also receives
        the raw engine events; `continue_on_error` lets the engine apply every resource
        that does not depend on a failed one (the run still fails at the end)."""
        fleet = self.store.load(tier, shard)
        name = stack_name(tier, shard, fleet.shards)
        if tenant is not None:
            scope = {tenant: before}

        def forward(event: Any) -> None:
            step = from_engine_event(name, event)
            if step is not None:
                self.emit(step)
            if on_event is not None:
                on_event(event)

        with guard(name):
            if scope is not None:
                attempt = self._scoped(tier, shard, fleet, name, scope, first_attempt,
                                       forward, continue_on_error)
            else:
                program = build_program(tier, shard, fleet, self._catalog(), self.archive,
                                        first_attempt)

                def attempt() -> dict[str, Any]:
                    def up(stack: Any) -> Any:
                        return stack.up(program=program, on_event=forward, color="never",
                                        continue_on_error=continue_on_error)

                    result = _lean.run(self._engine(), name, up)
                    return {k: v.value for k, v in result.outputs.items()}

        def on_retry(n: int, exc: BaseException) -> None:
            self.emit(StackProgress(name, "retry", f"stack busy, retry {n}"))

        self.emit(StackProgress(name, "engine_started", "up"))
        with guard(name):
            outputs: dict[str, Any] = retry_concurrent(attempt, on_retry=on_retry)
        self.emit(StackProgress(name, "engine_done", "up"))
        self._applied(tier, fleet, None if scope is None else set(scope))
        return outputs

    def _applied(self, tier: str, fleet: FleetSpec, only: set[str] | None) -> None:
        """Tell a store that tracks applied state (PostgreSQL rows: `pending` -> `ready`)
        which entries this `up` applied: the scope's alone for a scoped run (another
        tenant's pending row of the shard was not part of it)."""
        applied = getattr(self.store, "applied", None)
        if applied is None:
            return
        specs = [t for t in fleet.tenants if only is None or t.id in only]
        if specs:
            with guard():
                applied(tier, specs, fleet)

    def _scoped(
        self, tier: str, shard: int | None, fleet: FleetSpec, name: str,
        befores: Mapping[str, TenantSpec | None], first_attempt: frozenset[str],
        forward: Callable[[Any], None], continue_on_error: bool = False,
    ) -> Callable[[], dict[str, Any]]:
        catalog = self._catalog()
        scope = [(t, a) for t, a in shard_args(tier, shard, fleet, catalog, self.archive,
                                               first_attempt) if t in befores]
        extras = {t.id: record_of(fleet, t) for t in fleet.tenants if t.id in befores}
        model = catalog.tiers[tier]
        old = [tenant_args(b, model, fleet.platform, catalog.orgs.get(model.org), self.archive,
                           migration=migration_of(fleet, b))
               for b in befores.values() if b is not None]
        return partial(scoped_up, self._engine(), name, scope, old, extras, forward,
                       continue_on_error)

    def preview(self, tier: str, shard: int | None, on_event: Callable[[Any], None]) -> str:
        """Preview one shard. When its state already matches its program
        (`_nochange.unchanged`: the providers' own check and diff, no API call) the engine
        is not run: it would report no change either (issue 16)."""
        fleet = self.store.load(tier, shard)
        name = stack_name(tier, shard, fleet.shards)
        with guard(name):
            members = [a for _, a in shard_args(tier, shard, fleet, self._catalog(),
                                                self.archive)]
            self.emit(StackProgress(name, "engine_started", "preview"))
            engine = self._engine()
            deployment = state_of(engine, name)
            if deployment is not None and unchanged(deployment, name, engine.project,
                                                    members):
                self.emit(StackProgress(name, "engine_done", "preview: no change (state)"))
                return name
            program = build_program(tier, shard, fleet, self._catalog(), self.archive)

            def preview(stack: Any) -> Any:
                return stack.preview(program=program, on_event=on_event, color="never")

            retry_concurrent(partial(_lean.run, engine, name, preview))
            self.emit(StackProgress(name, "engine_done", "preview"))
        return name

    def outputs(self, stack: str) -> dict[str, Any]:
        """The stack's outputs; a stack that does not exist yet has none."""
        from pulumi.automation.errors import StackNotFoundError

        try:
            with guard(stack):
                return self._engine().outputs(stack)
        except FleetError as exc:
            if isinstance(exc.__cause__, StackNotFoundError):
                return {}
            raise

    def forget(self, stack: str, tenant: str | list[str]) -> int:
        """Drop tenants' resources from a stack's state without deleting them (one state
        export/import however many tenants)."""
        with guard(stack):
            return self._engine().forget(stack, tenant)

    def refresh(self, stack: str, urns: list[str]) -> None:
        with guard(stack):
            engine_stack = self._engine().stack(stack)
            retry_concurrent(partial(engine_stack.refresh, target=urns, color="never"))

    def project(self, stack: str) -> str:
        with guard(stack):
            return str(self._engine().stack(stack).workspace.project_settings().name)

    def destroy(self, stack: str) -> None:
        with guard(stack):
            self.emit(StackProgress(stack, "engine_started", "destroy"))
            engine_stack = self._engine().stack(stack)
            retry_concurrent(partial(engine_stack.destroy, color="never"))
            self.emit(StackProgress(stack, "engine_done", "destroy"))
