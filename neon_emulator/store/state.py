"""The live state: one World behind one re-entrant lock, with get-or-404 lookups.

Visibility is part of lookup: a project another org owns is *not found* for an org key,
exactly as Neon answers (CONTRACT.md section 9), so handlers cannot forget the check.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from neon_emulator.errors import not_found
from neon_emulator.store.records import (
    BranchRecord,
    DatabaseRecord,
    EndpointRecord,
    KeyRecord,
    OperationRecord,
    ProjectRecord,
    RoleRecord,
    SnapshotRecord,
    World,
)


class _ProjectOwned(Protocol):
    @property
    def project_id(self) -> str: ...


R = TypeVar("R", bound=_ProjectOwned)
V = TypeVar("V")


def _of_project(table: Mapping[str, R], project_id: str, record_id: str, kind: str) -> R:
    """A record by id, or 404 when missing or owned by another project (ids are global)."""
    rec = table.get(record_id)
    if rec is None or rec.project_id != project_id:
        raise not_found(f"{kind} {record_id}")
    return rec


def _of_branch(table: Mapping[str, V], branch_id: str, name: str, kind: str) -> V:
    """A role or database by name; they are keyed "<branch id>/<name>"."""
    rec = table.get(f"{branch_id}/{name}")
    if rec is None:
        raise not_found(f"{kind} {name}")
    return rec


@dataclass
class Caller:
    """Who is calling: the key, the orgs it can act in, and its project scope if any."""

    key: KeyRecord
    org_ids: set[str] = field(default_factory=set)

    @property
    def personal(self) -> bool:
        return self.key.kind == "personal"

    @property
    def project_id(self) -> str | None:
        return self.key.project_id

    def sees_org(self, org_id: str) -> bool:
        return org_id in self.org_ids

    def sees_project(self, project: ProjectRecord) -> bool:
        if project.org_id not in self.org_ids:
            return False
        return self.key.project_id is None or self.key.project_id == project.id


class Store:
    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        self._key_index: dict[str, int] = {}
        self.reindex()

    def reindex(self) -> None:
        self._key_index = {k.key: k.id for k in self.world.keys.values() if not k.revoked}

    @contextmanager
    def locked(self) -> Iterator[World]:
        with self.lock:
            yield self.world

    def dump(self) -> bytes:
        with self.lock:
            return self.world.model_dump_json(indent=1).encode()

    # -- keys ------------------------------------------------------------------------
    def key_by_token(self, token: str) -> KeyRecord | None:
        kid = self._key_index.get(token)
        if kid is None:
            return None
        rec = self.world.keys.get(kid)
        return rec if rec is not None and not rec.revoked else None

    def add_key(self, rec: KeyRecord) -> None:
        self.world.keys[rec.id] = rec
        self._key_index[rec.key] = rec.id

    def revoke_key(self, rec: KeyRecord) -> None:
        rec.revoked = True
        self._key_index.pop(rec.key, None)

    def caller_for(self, key: KeyRecord) -> Caller:
        if key.kind == "personal":
            return Caller(key=key, org_ids=set(self.world.orgs))
        return Caller(key=key, org_ids={key.org_id} if key.org_id else set())

    # -- lookups (404 when missing or invisible) --------------------------------------
    def project(self, caller: Caller, project_id: str, *, deleted: bool = False) -> ProjectRecord:
        p = self.world.projects.get(project_id)
        if p is None or not caller.sees_project(p) or (p.deleted_at is not None) != deleted:
            raise not_found(f"project {project_id}")
        return p

    def project_branch(
        self, caller: Caller, project_id: str, branch_id: str
    ) -> tuple[ProjectRecord, BranchRecord]:
        """A branch of a project the caller sees (404 for either)."""
        p = self.project(caller, project_id)
        return p, self.branch(p.id, branch_id)

    def branch(self, project_id: str, branch_id: str) -> BranchRecord:
        return _of_project(self.world.branches, project_id, branch_id, "branch")

    def endpoint(self, project_id: str, endpoint_id: str) -> EndpointRecord:
        return _of_project(self.world.endpoints, project_id, endpoint_id, "endpoint")

    def role(self, branch_id: str, name: str) -> RoleRecord:
        return _of_branch(self.world.roles, branch_id, name, "role")

    def database(self, branch_id: str, name: str) -> DatabaseRecord:
        return _of_branch(self.world.databases, branch_id, name, "database")

    def snapshot(self, project_id: str, snapshot_id: str) -> SnapshotRecord:
        return _of_project(self.world.snapshots, project_id, snapshot_id, "snapshot")

    def operation(self, project_id: str, op_id: str) -> OperationRecord:
        return _of_project(self.world.operations, project_id, op_id, "operation")

    # -- collections -------------------------------------------------------------------
    def branches_of(self, project_id: str) -> list[BranchRecord]:
        return [b for b in self.world.branches.values() if b.project_id == project_id]

    def endpoints_of(self, project_id: str, branch_id: str | None = None) -> list[EndpointRecord]:
        return [
            e for e in self.world.endpoints.values()
            if e.project_id == project_id and (branch_id is None or e.branch_id == branch_id)
        ]

    def roles_of(self, branch_id: str) -> list[RoleRecord]:
        return [r for r in self.world.roles.values() if r.branch_id == branch_id]

    def databases_of(self, branch_id: str) -> list[DatabaseRecord]:
        return [d for d in self.world.databases.values() if d.branch_id == branch_id]

    def snapshots_of(self, project_id: str) -> list[SnapshotRecord]:
        return [s for s in self.world.snapshots.values() if s.project_id == project_id]

    def default_branch(self, project_id: str) -> BranchRecord:
        for b in self.branches_of(project_id):
            if b.default:
                return b
        raise not_found(f"default branch of {project_id}")

    def next_db_id(self) -> int:
        n = self.world.next_db_id
        self.world.next_db_id += 1
        return n

    def next_key_id(self) -> int:
        n = self.world.next_key_id
        self.world.next_key_id += 1
        return n

    def allocate_address(self) -> tuple[str, str]:
        """Loopback hosts per ARCHITECTURE.md: 127.1.X.Y (proxy) and 127.2.X.Y (pooler)."""
        n = self.world.next_address
        self.world.next_address += 1
        x, y = divmod(n, 254)
        if x > 255:
            raise RuntimeError("endpoint address space exhausted")
        return f"127.1.{x}.{y + 1}", f"127.2.{x}.{y + 1}"
