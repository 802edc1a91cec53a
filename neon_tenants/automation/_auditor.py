"""Gathers the three views `audit.compare` needs (read-only) and applies the safe fixes.

Reading never takes a lock and never writes: stacks are read with `pulumi stack export`
(secrets stay encrypted), Neon with list calls, locks with the backend's lock store. Fixes
run under the shard's lock, in the order that unblocks the next one: stale locks, pending
operations, state of confirmed-gone projects, then an `up` of each shard with a tenant to
adopt or provision. A project is never deleted.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from neon_tenants.automation._backend_locks import is_stale
from neon_tenants.automation._locks import shard_lock
from neon_tenants.automation.audit import (
    AuditReport,
    Finding,
    FleetTenant,
    LockView,
    NeonProject,
    StackState,
    compare,
)
from neon_tenants.automation.events import StackProgress
from neon_tenants.fleet.sharding import all_stacks
from neon_tenants.naming import PROJECT_TYPE, project_name

if TYPE_CHECKING:
    from neon_tenants.automation._manager import FleetManager


class Auditor:
    def __init__(self, fm: FleetManager) -> None:
        self.fm = fm

    def _lock(self, stack: str) -> AbstractContextManager[None]:
        return shard_lock(self.fm.lock_dir, stack, self.fm.lock_conninfo)

    # -- reading ------------------------------------------------------------------------

    def fleet(self) -> tuple[list[FleetTenant], list[str]]:
        out: list[FleetTenant] = []
        stacks: list[str] = []
        for tier_name in self.fm.tiers_on_disk():
            fleet = self.fm.fleet(tier_name)
            tier = self.fm.catalog.tiers[tier_name]
            org_id = self._org_id(tier.org)
            stacks += [ref.name(fleet.shards) for ref in all_stacks(fleet)]
            for spec in fleet.tenants:
                out.append(
                    FleetTenant(
                        tenant=spec.id,
                        tier=tier_name,
                        stack=self.fm.stack_of(fleet, spec.id),
                        project_name=project_name(fleet.platform, spec.id),
                        org_id=org_id,
                        adopt_project_id=spec.adopt_project_id,
                    )
                )
        return out, stacks

    def _org_id(self, alias: str) -> str:
        try:
            return str(self.fm.client.org(alias).org_id)
        except Exception:  # noqa: BLE001 - an org without credentials: org drift not checked
            return ""

    def states(self, names: list[str]) -> list[StackState]:
        from pulumi.automation.errors import StackNotFoundError

        engine = self.fm.engine
        known = sorted(set(names) | set(engine.stack_names()))
        out: list[StackState] = []
        for name in known:
            try:
                exported = engine.workspace.export_stack(name)
            except StackNotFoundError:
                continue
            deployment: dict[str, Any] = dict(exported.deployment or {})
            out.append(
                StackState(
                    name,
                    tuple(deployment.get("resources") or ()),
                    tuple(deployment.get("pending_operations") or ()),
                )
            )
        return out

    def projects(self) -> list[NeonProject]:
        seen: dict[str, NeonProject] = {}
        for alias in self.fm.client.credentials.orgs:
            org = self.fm.client.org(alias)
            for p in org.iter_projects():
                seen.setdefault(p.id, NeonProject(p.id, p.name, str(p.org_id or org.org_id)))
        return list(seen.values())

    def confirmed_gone(self, project_ids: set[str]) -> set[str]:
        """Ids no configured org can read (404/403) or that Neon shows as deleted."""
        from neon_tenants.client.errors import Forbidden, NotFound

        gone: set[str] = set()
        for pid in project_ids:
            alive = False
            for alias in self.fm.client.credentials.orgs:
                try:
                    project = self.fm.client.org(alias).get_project(pid)
                except (NotFound, Forbidden):
                    continue
                alive = not getattr(project, "deleted_at", None)
                if alive:
                    break
            if not alive:
                gone.add(pid)
        return gone

    def stale_locks(self) -> list[LockView]:
        engine = self.fm.engine
        store = engine.lock_store
        if store is None:
            return []
        return [
            LockView(lock.stack, lock.key, lock.describe())
            for lock in store.locks()
            if lock.project == engine.project and is_stale(lock, lease=engine.lease)
        ]

    def audit(self) -> AuditReport:
        with self.fm._guard():
            fleet, stacks = self.fleet()
            states = self.states(stacks)
            projects = self.projects()
            live = {p.id for p in projects}
            in_state = {
                str((r.get("outputs") or {}).get("project_id") or r.get("id") or "")
                for st in states
                for r in st.resources
                if str(r.get("type", "")) == PROJECT_TYPE
            }
            gone = self.confirmed_gone({pid for pid in in_state - live if pid})
            return compare(fleet, states, projects, self.stale_locks(), gone)

    # -- fixing -------------------------------------------------------------------------

    def fix(self, report: AuditReport) -> list[Finding]:
        fixable = [f for f in report.findings if f.fix is not None]
        done: list[Finding] = []
        engine = self.fm.engine
        for f in (f for f in fixable if f.fix == "clear_lock"):
            store = engine.lock_store
            lock = next((x for x in store.locks() if x.key == f.lock_key), None) if store else None
            if store is not None and lock is not None and is_stale(lock, lease=engine.lease):
                if store.delete(lock):
                    done.append(f)
        for stack in sorted({f.stack for f in fixable if f.fix == "clear_pending" and f.stack}):
            with self._lock(stack), self.fm._guard(stack):
                engine.clear_pending(stack)
            done += [f for f in fixable if f.fix == "clear_pending" and f.stack == stack]
        for f in fixable:
            if f.fix == "forget_state" and f.stack and f.tenant:
                with self._lock(f.stack), self.fm._guard(f.stack):
                    self.fm._emit(StackProgress(f.stack, "imperative", f"forget {f.tenant}"))
                    engine.forget(f.stack, f.tenant)
                done.append(f)
        blocked = {f.stack for f in report.findings if f.blocks_up}
        ups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in fixable:
            if f.fix in ("adopt", "provision") and f.tier and f.tenant and f.stack:
                if f.stack in blocked:  # that `up` would delete a project: a human first
                    continue
                ups[(f.tier, f.stack)].append(f)
        for (tier, stack), items in sorted(ups.items()):
            with self._lock(stack):
                self.fm._up(tier, items[0].tenant)
            done += items
        return done

    def repair(self, stack: str, rounds: int = 2) -> list[Finding]:
        """Audit and apply the safe fixes of one stack's findings only (a worker holding
        that stack's shard lock: `_audit_ops.py`); a second round as in `run`."""
        fixed: list[Finding] = []
        for _ in range(rounds):
            report = self.audit()
            done = self.fix(AuditReport([f for f in report.findings if f.stack == stack]))
            if not done:
                break
            fixed += done
        return fixed

    def run(self, *, fix: bool = False, rounds: int = 2) -> AuditReport:
        """Audit; with `fix`, repair and audit again (a second round provisions what the
        first one dropped from the state), returning the last audit with what was fixed."""
        report = self.audit()
        fixed: list[Finding] = []
        for _ in range(rounds if fix else 0):
            done = self.fix(report)
            if not done:
                break
            fixed += done
            report = self.audit()
        report.fixed = fixed
        return report
