"""PostgresBackend: real PostgreSQL 15 behind every branch (issue 5).

Each branch is its own cluster (a timeline) copied from a template initdb'ed once per data
dir, with its own WAL archive and base backups. Branching from head uses an online
``pg_basebackup -c fast`` (or a copy of a stopped data dir); branching at a point, restore
and snapshots use real point-in-time recovery. Endpoints are loopback proxy listeners that
wake the cluster on connect; see runtime.py and accounting.py for lifecycle and quotas,
history.py for PITR, restore and snapshots.

Each branch runs the major its project asked for (majors.py: 15 from Debian, the others from
the bootstrap's npm builds); a major that is not installed is refused.
"""

from __future__ import annotations

import atexit
import contextlib
from pathlib import Path
from typing import Any

from . import _proc, majors
from .accounting import _Route
from .backend import (
    BranchSource,
    BranchUsage,
    EndpointSpec,
    QuotaPolicy,
    RoleSpec,
)
from .history import History, _merge_dbs
from .layout import BranchMeta
from .state import BranchState, EndpointState


class PostgresBackend(History):
    def __init__(
        self,
        data_dir: Path,
        endpoint_port: int = 5432,
        *,
        monitor_interval: float = 0.5,
        backup_every_bytes: int = 64 * 1024 * 1024,
        tls_dir: Path | None = None,
        **_settings: Any,
    ) -> None:
        super().__init__(Path(data_dir), endpoint_port, monitor_interval,
                         backup_every_bytes=backup_every_bytes, tls_dir=tls_dir)
        atexit.register(self.shutdown)

    # -- branches ---------------------------------------------------------------------------
    def create_branch(
        self,
        project_id: str,
        branch_id: str,
        *,
        source: BranchSource,
        roles: list[RoleSpec],
        databases: list[tuple[str, str]],
        pg_version: int,
    ) -> str | None:
        meta = BranchMeta(roles={r.name: r.password for r in roles},
                          databases=[[d, o] for d, o in databases], pg_version=pg_version)
        majors.server_bin(pg_version)  # a major that is not installed fails here, not later
        if source.branch_id is None:
            self.new_branch(project_id, branch_id, meta)
            return None
        parent = self.branch(project_id, source.branch_id)
        with parent.lock:
            meta.pg_version = parent.meta.pg_version
            meta.roles = {**parent.meta.roles, **meta.roles}
            meta.databases = _merge_dbs(parent.meta.databases, meta.databases)
            if not parent.meta.materialized:
                self.new_branch(project_id, branch_id, meta)
                return None
            if source.schema_only:
                return self._create_schema_only(parent, project_id, branch_id, meta)
            br = self.new_branch(project_id, branch_id, meta)
            with br.lock:
                backup = self._build(br.path, parent, lsn=source.lsn, timestamp=source.timestamp)
        with br.lock:
            br.meta.backups = [backup]
            br.meta.materialized = True
            br.save()
            if _catalog_differs(parent.meta, br.meta):
                with self.running(br) as cluster:
                    self.apply_catalog(br, cluster)
            return backup.lsn

    def _create_schema_only(
        self, parent: BranchState, project_id: str, branch_id: str, meta: BranchMeta
    ) -> str | None:
        dumps = {db: self.branch_schema(project_id, parent.branch_id, db)
                 for db, _ in meta.databases}
        br = self.new_branch(project_id, branch_id, meta)
        with self.running(br) as cluster:
            for db, schema in dumps.items():
                if schema:
                    _proc.run(
                        [majors.require_client_tool("psql", cluster.major), "-h",
                         str(cluster.sockdir), "-U", "cloud_admin",
                         "-d", db, "-v", "ON_ERROR_STOP=0", "-q"],
                        input_text=schema, what="psql (schema)",
                    )
            return cluster.current_lsn()

    def delete_branch(self, project_id: str, branch_id: str) -> None:
        br = self.branch(project_id, branch_id)
        for ep in self.endpoints_of(project_id, branch_id):
            with self._lock:
                ep.active = False
            if ep.pooler is not None:
                ep.pooler.stop()
                ep.pooler = None
        with br.lock:
            if br.cluster is not None:
                br.cluster.stop(mode="immediate")
            _proc.remove_tree(br.path)
            self.forget_branch(project_id, branch_id)

    def available_pg_versions(self) -> list[int]:
        return majors.available()

    # -- endpoints --------------------------------------------------------------------------------
    def register_endpoint(self, project_id: str, spec: EndpointSpec) -> None:
        ep = EndpointState(project_id, spec)
        with self._lock:
            old = self._endpoints.get(spec.endpoint_id)
            self._endpoints[spec.endpoint_id] = ep
        if old is not None:
            self.deactivate(old)
        self._listen(ep)

    def _listen(self, ep: EndpointState) -> None:
        a = ep.spec.address
        identity = self.tls.identity([a.host, a.pooler_host])
        self.proxy.listen(f"{ep.endpoint_id}/direct", a.host, a.port,
                          _Route(self, ep, False, identity))
        self.proxy.listen(f"{ep.endpoint_id}/pooler", a.pooler_host, a.port,
                          _Route(self, ep, True, identity))

    def update_endpoint(self, project_id: str, spec: EndpointSpec) -> None:
        ep = self.endpoint(spec.endpoint_id)
        moved = spec.branch_id != ep.spec.branch_id
        if moved:
            self.deactivate(ep)
        readdress = spec.address != ep.spec.address
        with self._lock:
            ep.spec = spec
        if readdress:
            self._listen(ep)

    def start_endpoint(self, project_id: str, endpoint_id: str) -> None:
        ep = self.endpoint(endpoint_id)
        br = self.branch(project_id, ep.branch_id)
        with br.lock:
            self.activate(ep, br)

    def suspend_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self.deactivate(self.endpoint(endpoint_id))

    def restart_endpoint(self, project_id: str, endpoint_id: str) -> None:
        self.suspend_endpoint(project_id, endpoint_id)
        self.start_endpoint(project_id, endpoint_id)

    def delete_endpoint(self, project_id: str, endpoint_id: str) -> None:
        with self._lock:
            ep = self._endpoints.get(endpoint_id)
        if ep is None:
            return
        self.deactivate(ep)
        self.proxy.close(f"{endpoint_id}/direct")
        self.proxy.close(f"{endpoint_id}/pooler")
        with self._lock:
            self._endpoints.pop(endpoint_id, None)

    def endpoint_state(self, project_id: str, endpoint_id: str) -> str:
        return "active" if self.endpoint(endpoint_id).active else "idle"

    # -- roles and databases ----------------------------------------------------------------------
    def _catalog_change(self, project_id: str, branch_id: str, change: Any) -> None:
        br = self.branch(project_id, branch_id)
        with br.lock:
            if br.meta.materialized:
                with self.running(br) as cluster:
                    change(br, cluster)
            else:
                change(br, None)
            br.save()
            self.refresh_poolers(br)

    def create_role(self, project_id: str, branch_id: str, role: RoleSpec) -> None:
        def change(br: BranchState, cluster: Any) -> None:
            br.meta.roles[role.name] = role.password
            if cluster is not None:
                cluster.apply_roles([(role.name, role.password)])

        self._catalog_change(project_id, branch_id, change)

    set_role_password = create_role

    def delete_role(self, project_id: str, branch_id: str, name: str) -> None:
        def change(br: BranchState, cluster: Any) -> None:
            br.meta.roles.pop(name, None)
            br.meta.databases = [d for d in br.meta.databases if d[1] != name]
            if cluster is not None:
                cluster.drop_role(name)

        self._catalog_change(project_id, branch_id, change)

    def create_database(self, project_id: str, branch_id: str, name: str, owner: str) -> None:
        def change(br: BranchState, cluster: Any) -> None:
            br.meta.databases = _merge_dbs(br.meta.databases, [[name, owner]])
            if cluster is not None:
                cluster.apply_databases([(name, owner)])

        self._catalog_change(project_id, branch_id, change)

    def delete_database(self, project_id: str, branch_id: str, name: str) -> None:
        def change(br: BranchState, cluster: Any) -> None:
            br.meta.databases = [d for d in br.meta.databases if d[0] != name]
            if cluster is not None:
                cluster.drop_database(name)

        self._catalog_change(project_id, branch_id, change)

    def branch_schema(self, project_id: str, branch_id: str, database: str) -> str:
        br = self.branch(project_id, branch_id)
        with br.lock:
            if not br.meta.materialized:
                return ""
            with self.running(br) as cluster:
                return _proc.run(
                    [majors.require_client_tool("pg_dump", cluster.major), "-s", "-h",
                     str(cluster.sockdir), "-U",
                     "cloud_admin", "-d", database],
                    what="pg_dump",
                )

    # -- usage and quotas -------------------------------------------------------------------------
    def set_quota(self, project_id: str, quota: QuotaPolicy) -> None:
        with self._lock:
            self._quotas[project_id] = quota
        self.enforce_quota(project_id, sample=True)

    def usage(self, project_id: str) -> dict[str, BranchUsage]:
        return self.usage_of(project_id)

    def quota_exceeded(self, project_id: str) -> str | None:
        return self.enforce_quota(project_id, sample=False)

    # -- lifecycle --------------------------------------------------------------------------------
    def delete_project(self, project_id: str) -> None:
        for ep in self.endpoints_of(project_id):
            with contextlib.suppress(Exception):
                self.delete_endpoint(project_id, ep.endpoint_id)
        for br in self.project_branches(project_id):
            with contextlib.suppress(Exception):
                self.delete_branch(project_id, br.branch_id)
        with self._lock:
            self._quotas.pop(project_id, None)
            self._exceeded.pop(project_id, None)
        _proc.remove_tree(self.layout.project(project_id))

    def shutdown(self) -> None:
        self.close_all()
        atexit.unregister(self.shutdown)

    def running_pids(self) -> list[int]:
        """Postmaster pids this backend runs (for tests and the developer API)."""
        with self._lock:
            branches = list(self._branches.values())
        return [br.cluster.pid for br in branches if br.cluster is not None and br.cluster.pid]


def _catalog_differs(parent: BranchMeta, child: BranchMeta) -> bool:
    return parent.roles != child.roles or {d[0] for d in parent.databases} != {
        d[0] for d in child.databases
    }
