"""Process lifecycle behind PostgresBackend: registries, start/stop, wake, idle suspend.

Materialisation choice (issue 5, "metadata-only projects stay cheap"): a root branch, or a
child of a never-materialised parent, only records its roles and databases; its data dir is
copied from the template on its first start (connection or start_endpoint). Nothing runs
until then. Children of a materialised parent copy the data at creation time, because the
parent's head moves on.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import _proc, tls
from ._scram import Secret
from .backend import ComputeError, QuotaPolicy
from .cluster import Cluster, reap_orphans
from .layout import Backup, BranchMeta, Layout, lsn_to_int
from .pooler import Pooler
from .proxy import Proxy, Refused
from .state import BranchState, EndpointState

log = logging.getLogger("neon_emulator.compute")


class Runtime:
    """Owns every process: clusters, poolers, the proxy thread and the monitor thread."""

    def __init__(
        self, data_dir: Path, endpoint_port: int, monitor_interval: float,
        backup_every_bytes: int = 64 * 1024 * 1024, keep_backups: int = 3,
        tls_dir: Path | None = None,
    ) -> None:
        self.backup_every_bytes = backup_every_bytes
        self.keep_backups = keep_backups
        data_dir = data_dir.resolve()  # tools run with cwd=/: relative paths would break
        data_dir.mkdir(parents=True, exist_ok=True)
        _proc.ensure_traversable(data_dir)
        self.layout = Layout(data_dir)
        self.tls = tls.Authority(tls_dir.resolve() if tls_dir else data_dir / "tls")
        self.endpoint_port = endpoint_port
        # sockets live under a short path (unix socket paths are limited to 107 bytes)
        self.rundir = Path(tempfile.mkdtemp(prefix="nemu-", dir="/tmp"))
        self.rundir.chmod(0o711)
        self._reap_previous_run(data_dir)
        self._lock = threading.RLock()
        self._branches: dict[tuple[str, str], BranchState] = {}
        self._endpoints: dict[str, EndpointState] = {}
        self._quotas: dict[str, QuotaPolicy] = {}
        self._exceeded: dict[str, str] = {}
        self._enforcing: set[str] = set()
        self._seq = 0
        self._proxy: Proxy | None = None
        self._closed = threading.Event()
        self._interval = monitor_interval
        self._monitor = threading.Thread(target=self._monitor_loop, name="neon-compute-monitor",
                                         daemon=True)
        self._monitor.start()

    def _reap_previous_run(self, data_dir: Path) -> None:
        """A killed emulator leaves its processes behind: stop them before reusing the data
        dir, and remember this run's runtime dir for the next one."""
        marker = data_dir / "runtime-dir"
        markers = [str(data_dir) + "/"]
        previous = marker.read_text().strip() if marker.exists() else ""
        if previous.startswith("/tmp/nemu-"):
            markers.append(previous + "/")
        reaped = reap_orphans(markers)
        if reaped:
            log.warning("stopped %d process(es) left by a previous run", len(reaped))
        if previous.startswith("/tmp/nemu-"):
            shutil.rmtree(previous, ignore_errors=True)
        marker.write_text(str(self.rundir))

    # -- registries ---------------------------------------------------------------------------
    @property
    def proxy(self) -> Proxy:
        with self._lock:
            if self._proxy is None:
                self._proxy = Proxy()
            return self._proxy

    def _sockdir(self) -> Path:
        with self._lock:
            self._seq += 1
            return self.rundir / f"c{self._seq}"

    def branch(self, project_id: str, branch_id: str) -> BranchState:
        """The branch's state; an unknown branch is an empty, never-materialised one."""
        key = (project_id, branch_id)
        with self._lock:
            br = self._branches.get(key)
            if br is None:
                path = self.layout.branch(project_id, branch_id)
                meta_file = path / "meta.json"
                meta = BranchMeta.load(meta_file) if meta_file.exists() else BranchMeta()
                br = BranchState(project_id, branch_id, path, meta, self._sockdir())
                self._branches[key] = br
            return br

    def new_branch(self, project_id: str, branch_id: str, meta: BranchMeta) -> BranchState:
        path = self.layout.branch(project_id, branch_id)
        with self._lock:
            old = self._branches.pop((project_id, branch_id), None)
        if old is not None and old.running:
            self.stop_cluster(old, archive=False)
        _proc.remove_tree(path)
        path.mkdir(parents=True)
        br = BranchState(project_id, branch_id, path, meta, self._sockdir())
        br.save()
        with self._lock:
            self._branches[(project_id, branch_id)] = br
        return br

    def forget_branch(self, project_id: str, branch_id: str) -> None:
        with self._lock:
            self._branches.pop((project_id, branch_id), None)

    def endpoint(self, endpoint_id: str) -> EndpointState:
        with self._lock:
            ep = self._endpoints.get(endpoint_id)
        if ep is None:
            raise ComputeError(f"endpoint {endpoint_id} is not registered", status=404)
        return ep

    def endpoints_of(self, project_id: str, branch_id: str | None = None) -> list[EndpointState]:
        with self._lock:
            return [
                ep for ep in self._endpoints.values()
                if ep.project_id == project_id and branch_id in (None, ep.branch_id)
            ]

    def has_active(self, br: BranchState) -> bool:
        return any(ep.active for ep in self.endpoints_of(br.project_id, br.branch_id))

    # -- clusters -------------------------------------------------------------------------------
    def start_cluster(self, br: BranchState) -> Cluster:
        """Start (materialising from the template first if needed). Caller holds br.lock."""
        if not br.meta.materialized:
            self._materialize(br)
        cluster = br.get_cluster()
        if not cluster.running:
            from .branching import ensure_first_backup

            ensure_first_backup(br.path, br.meta.backups)
            cluster.start()
            self.apply_size_quota(br)
        if br.meta.wal_mark is None:
            br.meta.wal_mark = cluster.current_lsn()
        if br.meta.running_since is None:
            br.meta.running_since = time.time()
            br.save()
        return cluster

    def _materialize(self, br: BranchState) -> None:
        from .branching import from_template

        backup = from_template(self.layout, br.path, br.meta.pg_version)
        backup.time = br.meta.created_at  # state at creation == template + roles (applied below)
        br.meta.backups = [backup]
        br.meta.materialized = True
        cluster = br.get_cluster()
        cluster.start()
        self.apply_catalog(br, cluster)
        br.save()

    def apply_catalog(self, br: BranchState, cluster: Cluster) -> None:
        cluster.apply_roles(sorted(br.meta.roles.items()))
        cluster.apply_databases([(d[0], d[1]) for d in br.meta.databases])

    def stop_cluster(self, br: BranchState, *, archive: bool = True) -> None:
        """Stop; first archive all WAL so that PITR on this branch needs no running server."""
        cluster = br.cluster
        if cluster is None or not cluster.running:
            return
        for ep in self.endpoints_of(br.project_id, br.branch_id):
            self._stop_pooler(ep)
        if archive:
            try:
                self.maybe_backup(br)
                self.sample(br, cluster)
                br.meta.stopped_lsn = cluster.archive_now(br.path / "archive")
                br.meta.wal_mark = None
                br.meta.stopped_at = time.time()
                br.meta.running_since = None
            except Exception:  # noqa: BLE001 - still stop it; PITR will restart it first
                br.meta.stopped_at = None
        cluster.stop()
        br.save()

    @contextlib.contextmanager
    def running(self, br: BranchState) -> Iterator[Cluster]:
        """The branch's cluster, started for the block if no endpoint keeps it running."""
        with br.lock:
            started = not br.running
            cluster = self.start_cluster(br)
            try:
                yield cluster
            finally:
                if started and not self.has_active(br):
                    self.stop_cluster(br)

    def sample(self, br: BranchState, cluster: Cluster) -> None:
        """Written bytes from WAL position deltas; logical size from database sizes."""
        lsn, size = cluster.usage_sample()
        if br.meta.wal_mark is not None:
            delta = lsn_to_int(lsn) - lsn_to_int(br.meta.wal_mark)
            br.meta.usage.written_data_bytes += max(0, delta)
        br.meta.wal_mark = lsn
        br.meta.usage.logical_size_bytes = size
        br.sampled_at = time.monotonic()

    def apply_size_quota(self, br: BranchState) -> None:
        """Over logical_size_bytes the cluster runs but is read-only (Neon: writes fail)."""
        cluster = br.cluster
        if cluster is None or not cluster.running:
            return
        limit = self._quotas.get(br.project_id, QuotaPolicy()).logical_size_bytes
        auto = cluster.pgdata / "postgresql.auto.conf"
        is_ro = auto.exists() and "default_transaction_read_only" in auto.read_text()
        if not limit and not is_ro:
            return  # the common case: no query on the wake-up path
        size = cluster.logical_size()
        br.meta.usage.logical_size_bytes = size
        over = bool(limit) and size > limit
        if over != is_ro:
            cluster.set_read_only(over)
        br.meta.read_only_quota = over

    # -- endpoints ------------------------------------------------------------------------------
    def activate(self, ep: EndpointState, br: BranchState) -> Cluster:
        """Start the endpoint's compute (caller holds br.lock); refused over quota."""
        exceeded = self._exceeded.get(ep.project_id)
        if exceeded:
            raise ComputeError(
                f"project exceeded its {exceeded} quota; computes stay suspended until it is "
                "raised", status=403, code="QUOTA_EXCEEDED",
            )
        cluster = self.start_cluster(br)
        with self._lock:
            if not ep.active:
                ep.active = True
                ep.active_since = time.monotonic()
            ep.last_activity = time.monotonic()
        return cluster

    def deactivate(self, ep: EndpointState, *, only_if_idle: float | None = None) -> None:
        br = self.branch(ep.project_id, ep.branch_id)
        with br.lock:
            with self._lock:
                if not ep.active:
                    return
                if only_if_idle is not None and ep.idle_for(time.monotonic()) < only_if_idle:
                    return
                self._account(ep, br)
                ep.active = False
                ep.active_since = None
            self._stop_pooler(ep)
            if not self.has_active(br):
                self.stop_cluster(br)

    def _account(self, ep: EndpointState, br: BranchState) -> None:
        """Active seconds = compute uptime; compute seconds = uptime * the endpoint's min_cu."""
        now = time.monotonic()
        if ep.active and ep.active_since is not None:
            spent = now - ep.active_since
            ep.active_since = now
            br.meta.active_seconds += spent
            br.meta.compute_seconds += spent * ep.spec.min_cu
            br.meta.usage.active_time_seconds = int(br.meta.active_seconds)
            br.meta.usage.compute_time_seconds = int(br.meta.compute_seconds)

    def account_all(self, project_id: str) -> None:
        with self._lock:
            for ep in self.endpoints_of(project_id):
                self._account(ep, self.branch(project_id, ep.branch_id))

    def _stop_pooler(self, ep: EndpointState) -> None:
        if ep.pooler is not None:
            ep.pooler.stop()
            ep.pooler = None

    def wake(self, ep: EndpointState, pooled: bool) -> str:
        """Proxy callback (worker thread): start the compute, return the socket to dial."""
        if self._closed.is_set():
            raise Refused("the emulator is shutting down")
        exceeded = self._exceeded.get(ep.project_id)
        if exceeded:
            raise Refused(f"Your project has exceeded the {exceeded} quota. "
                          "Raise the quota to resume.")
        br = self.branch(ep.project_id, ep.branch_id)
        with br.lock:
            try:
                cluster = self.activate(ep, br)
            except ComputeError as exc:
                raise Refused(str(exc)) from exc
            if not pooled:
                return br.socket
            if ep.pooler is None or not ep.pooler.running:
                rundir = self.rundir / f"p-{ep.endpoint_id}"
                ep.pooler = Pooler(rundir, cluster.sockdir, read_only=ep.spec.read_only)
                ep.pooler.start(br.meta.roles)
            return str(ep.pooler.socket)

    def role_password(self, ep: EndpointState, user: str) -> str | None:
        """The password the emulator gave this role on the endpoint's branch (proxy auth)."""
        return self.branch(ep.project_id, ep.branch_id).meta.roles.get(user)

    def role_verifier(self, ep: EndpointState, user: str) -> Secret | None:
        """A login role's SCRAM verifier from the endpoint's running cluster (pg_authid)."""
        cluster = self.branch(ep.project_id, ep.branch_id).cluster
        if cluster is None or not cluster.running:
            return None
        try:
            with cluster.admin() as conn:
                row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s "
                                   "AND rolcanlogin", (user,)).fetchone()
        except ComputeError:
            return None
        return Secret.from_verifier(row[0]) if row and row[0] else None

    def refresh_poolers(self, br: BranchState) -> None:
        for ep in self.endpoints_of(br.project_id, br.branch_id):
            if ep.pooler is not None and ep.pooler.running:
                ep.pooler.write_auth(br.meta.roles)

    # -- monitor: idle suspend and quotas --------------------------------------------------------
    def _monitor_loop(self) -> None:
        tick = 0
        while not self._closed.wait(self._interval):
            tick += 1
            self._guarded("idle check", self.check_idle)
            if tick % 6 == 0:
                self._guarded("periodic backup", self.backup_busy_branches)
            if tick % 4 == 0:
                with self._lock:
                    projects = list(self._quotas)
                for project_id in projects:
                    self._guarded("quota check", self.enforce_quota, project_id, sample=True)

    def _guarded(self, what: str, fn: Callable[..., object], *args: Any, **kw: Any) -> None:
        """The monitor must survive any failure; ComputeError texts carry no secrets."""
        try:
            fn(*args, **kw)
        except Exception as exc:  # noqa: BLE001
            if not self._closed.is_set():
                log.warning("compute monitor: %s failed: %s", what, exc)

    def check_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [
                ep for ep in self._endpoints.values()
                if ep.active and ep.spec.suspend_timeout_seconds >= 0
                and ep.idle_for(now) >= ep.spec.suspend_timeout_seconds
            ]
        for ep in due:
            self.deactivate(ep, only_if_idle=float(ep.spec.suspend_timeout_seconds))

    def backup_busy_branches(self) -> None:
        with self._lock:
            branches = [br for br in self._branches.values() if br.running]
        for br in branches:
            if not br.lock.acquire(blocking=False):
                continue  # an operation is running on it; next time
            try:
                self.maybe_backup(br)
            finally:
                br.lock.release()

    def maybe_backup(self, br: BranchState) -> None:
        """A new base backup after backup_every_bytes of WAL; keep the first (it starts the
        history window) and the latest keep_backups - 1."""
        from .branching import periodic_backup

        cluster = br.cluster
        if cluster is None or not cluster.running or not br.meta.backups:
            return
        last = br.meta.backups[-1]
        if lsn_to_int(cluster.current_lsn()) - lsn_to_int(last.lsn) < self.backup_every_bytes:
            return
        names = [int(b.dir) for b in br.meta.backups if b.dir is not None and b.dir.isdigit()]
        backup = periodic_backup(cluster, br.path / "backups", str(max(names, default=0) + 1))
        backups = [*br.meta.backups, backup]
        keep = [backups[0], *backups[1:][-(max(1, self.keep_backups - 1)):]]
        for old in backups:
            if old not in keep and old.dir is not None:
                _proc.remove_tree(br.path / "backups" / old.dir)
        br.meta.backups = keep
        br.save()

    def enforce_quota(self, project_id: str, *, sample: bool) -> str | None:
        raise NotImplementedError  # provided by the accounting mixin

    # -- shutdown ------------------------------------------------------------------------------
    def close_all(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            eps = list(self._endpoints.values())
            branches = list(self._branches.values())
        for ep in eps:
            with contextlib.suppress(Exception):
                self.deactivate(ep)
        for br in branches:
            with br.lock, contextlib.suppress(Exception):
                self.stop_cluster(br)
        for br in branches:  # whatever failed above: stop hard
            if br.cluster is not None:
                br.cluster.stop(mode="immediate")
        if self._proxy is not None:
            self._proxy.shutdown()
        shutil.rmtree(self.rundir, ignore_errors=True)
        _proc.forget_traversable(self.layout.root)


__all__ = ["Backup", "Runtime"]
