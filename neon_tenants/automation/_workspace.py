"""The engine side: one LocalWorkspace per FleetManager, the offline env, stack state edits.

Never calls `PulumiCommand.install()` (it downloads; PULUMI_OFFLINE.md). The env comes from
`neon_tenants._env.pulumi_env()` (bootstrap's PATH, PULUMI_HOME, backend, passphrase,
offline flags) with our backend/Neon settings on top. Dynamic providers run in a separate
process the engine starts, so Neon credentials travel as env vars, never in state.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from neon_tenants._env import SECRETS_PROVIDER_ENV, require_own_secrets
from neon_tenants._settings import DEFAULT_PASSPHRASE
from neon_tenants.automation._backend_locks import (
    BackendLock,
    FileLockStore,
    LeaseKeeper,
    PostgresLockStore,
    clear_stale,
    lease_from_env,
    lock_store,
    run_holders,
)

PROJECT_NAME = "neon-tenants"
_PROJECT_YAML = f"name: {PROJECT_NAME}\nruntime: python\n"


def engine_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The env passed to every pulumi command (and through it to the dynamic providers)."""
    env: dict[str, str] = {}
    try:
        from neon_tenants._env import pulumi_env

        env.update(pulumi_env())
    except ImportError:
        env.update(_fallback_env())
    if "PULUMI_CONFIG_PASSPHRASE_FILE" not in env and not os.environ.get(SECRETS_PROVIDER_ENV):
        env.setdefault("PULUMI_CONFIG_PASSPHRASE", DEFAULT_PASSPHRASE)
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    env.setdefault("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
    env.setdefault("PULUMI_PYTHON_CMD", sys.executable)
    if overrides:
        backend = overrides.get("PULUMI_BACKEND_URL", "")
        if backend.startswith(("postgres://", "postgresql://")):
            from neon_tenants.db import DatabaseUrl

            url, secret = DatabaseUrl.parse(backend).pulumi_backend()
            overrides = {**overrides, **secret, "PULUMI_BACKEND_URL": url}
        env.update(overrides)
    require_own_secrets(env, os.environ)
    return env


def _fallback_env() -> dict[str, str]:
    """Before `_env.py` exists: the pulumi CLI on PATH or in the bootstrap cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neon-tenants"
    dirs = sorted(cache.glob("pulumi-v*/bin"), reverse=True)
    path = os.environ.get("PATH", "")
    if dirs:
        path = f"{dirs[0]}{os.pathsep}{path}"
    return {"PATH": path, "PULUMI_HOME": str(cache / "pulumi-home")}


def ensure_work_dir(work_dir: Path) -> None:
    """A Pulumi.yaml naming the same project as the repo's, so stacks are shared with the CLI."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if not any((work_dir / f"Pulumi{ext}").exists() for ext in (".yaml", ".yml", ".json")):
        (work_dir / "Pulumi.yaml").write_text(_PROJECT_YAML, encoding="utf-8")


class Engine:
    """Thin wrapper over one LocalWorkspace: open stacks, run ops, edit state.

    Opening a stack first clears its stale engine locks (holder dead, or lease expired:
    `_backend_locks.py`), and while this process lives it renews its host's live locks;
    `on_lock_cleared` hears about each lock removed.
    """

    def __init__(
        self,
        work_dir: Path,
        env: Mapping[str, str],
        on_lock_cleared: Callable[[BackendLock], None] | None = None,
    ) -> None:
        from pulumi import automation as auto

        ensure_work_dir(work_dir)
        self.env = dict(env)
        self.lease = lease_from_env(self.env)
        self.lock_store = lock_store(self.env.get("PULUMI_BACKEND_URL", ""), self.env)
        # PostgreSQL mode: workers' locks on other hosts are judged by their heartbeats
        self.holders = run_holders({**os.environ, **self.env}) if self.lock_store else None
        self._keeper = LeaseKeeper(self.lock_store, self.lease) if self.lock_store else None
        self._on_lock_cleared = on_lock_cleared
        pulumi_bin = shutil.which("pulumi", path=self.env.get("PATH"))
        command = None
        if pulumi_bin is not None:
            command = auto.PulumiCommand(root=str(Path(pulumi_bin).parent.parent))
        self.workspace = auto.LocalWorkspace(
            work_dir=str(work_dir),
            env_vars=self.env,
            pulumi_command=command,
            secrets_provider=os.environ.get(SECRETS_PROVIDER_ENV) or None,
        )

    @property
    def project(self) -> str:
        return str(self.workspace.project_settings().name)

    def clear_stale_locks(self, name: str | None = None) -> list[BackendLock]:
        """Remove the stale locks of stack `name` (all stacks when None) of this project."""
        if self.lock_store is None:
            return []
        if self._keeper is not None:
            self._keeper.start()
        cleared = clear_stale(
            self.lock_store, name, project=self.project, lease=self.lease, holders=self.holders
        )
        if isinstance(self.lock_store, FileLockStore):  # a killed writer's torn sidecars
            self.lock_store.repair_torn_sidecars(None if cleared else name)
        for lock in cleared:
            if self._on_lock_cleared is not None:
                self._on_lock_cleared(lock)
        for stack in sorted({lock.stack for lock in cleared}):
            # the dead run's interrupted creates stay in the checkpoint forever otherwise
            self._drop_pending(stack)
        return cleared

    def stack(self, name: str) -> Any:
        from pulumi import automation as auto

        self.clear_stale_locks(name)
        return auto.Stack.create_or_select(name, self.workspace)

    def select(self, name: str) -> Any:
        from pulumi import automation as auto

        self.clear_stale_locks(name)
        return auto.Stack.select(name, self.workspace)

    def outputs(self, name: str) -> dict[str, Any]:
        """Plaintext stack outputs in ONE CLI call (the SDK's `outputs()` makes two plus a
        `stack select`; reading connection info is the hot path of `show`)."""
        import json

        run = getattr(self.workspace, "_run_pulumi_cmd_sync", None)
        if run is None:  # pragma: no cover - SDK changed: fall back to the public API
            return {k: v.value for k, v in self.workspace.stack_outputs(name).items()}
        result = run(["stack", "output", "--json", "--show-secrets", "--stack", name])
        data: dict[str, Any] = json.loads(result.stdout or "{}")
        return data

    def stack_names(self) -> list[str]:
        if isinstance(self.lock_store, PostgresLockStore):  # `stack ls` hangs there (4+ stacks)
            names: list[str] = self.lock_store.stack_names(self.project)
            return names
        return [s.name for s in self.workspace.list_stacks()]

    def clear_pending(self, stack_name: str) -> None:
        """Drop the interrupted operations a checkpoint carries.

        The engine keeps a pending CREATE forever (it "must be cleared by the user"); `pulumi
        stack import` removes every pending operation (cmd/pulumi/stack/io.go SaveSnapshot),
        so an export + import is the engine's own way. Safe once `audit` has looked: our
        providers' creates adopt by name, so the next `up` finds what the interrupted one made.
        """
        self.clear_stale_locks(stack_name)
        self._drop_pending(stack_name)

    def _drop_pending(self, stack_name: str) -> bool:
        from pulumi.automation import Deployment
        from pulumi.automation.errors import StackNotFoundError

        try:
            state = self.workspace.export_stack(stack_name)
        except StackNotFoundError:
            return False
        if not (state.deployment or {}).get("pending_operations"):
            return False
        self.workspace.import_stack(
            stack_name, Deployment(version=state.version, deployment=state.deployment)
        )
        return True

    def forget(self, stack_name: str, tenant: str | Iterable[str]) -> int:
        """Drop a tenant's resources from a stack's state WITHOUT deleting them.

        Export, filter, import: used to hand a tenant's project to another stack, since the
        engine would delete it once it disappears from the program. The tenant's stack
        output goes too. Ownership is read from each resource's `parent` (naming.py), so
        tenant `shop` never takes `shop-branch-eu`'s resources with it. Returns how many
        resources were dropped.
        """
        from pulumi.automation import Deployment
        from pulumi.automation.errors import StackNotFoundError

        from neon_tenants.naming import tenants_in_state

        gone = {tenant} if isinstance(tenant, str) else set(tenant)
        self.clear_stale_locks(stack_name)
        try:
            state = self.workspace.export_stack(stack_name)
        except StackNotFoundError:
            return 0  # never deployed: nothing to forget
        deployment = dict(state.deployment or {})
        resources = list(deployment.get("resources") or [])
        owner = tenants_in_state(resources)
        kept: list[dict[str, Any]] = []
        for res in resources:
            if owner.get(str(res.get("urn", ""))) in gone:
                continue
            outputs = res.get("outputs") or {}
            if res.get("type") == "pulumi:pulumi:Stack" and gone & set(outputs):
                res = {**res, "outputs": {k: v for k, v in outputs.items() if k not in gone}}
            kept.append(res)
        dropped = len(resources) - len(kept)
        if not dropped and len(kept) == len(resources) and not any(
            gone & set(r.get("outputs") or {}) for r in resources
            if r.get("type") == "pulumi:pulumi:Stack"
        ):
            return 0
        deployment["resources"] = kept
        self.workspace.import_stack(
            stack_name, Deployment(version=state.version, deployment=deployment)
        )
        return dropped
