"""The engine's own stack locks in the state backend: find them, judge them, clear stale ones.

Pulumi's DIY backend (file:// and postgres://) takes a stack lock by writing
`.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` = `{pid, username, hostname, timestamp}`
(pkg/backend/diy/lock.go) and deletes it when the update ends. A `kill -9` of the engine
leaves the key behind, and every later update on that stack fails with "the stack is
currently locked" (ConcurrentUpdateError -> ShardBusy) until someone deletes it by hand
(issue 14). The engine never looks at whether the holder still lives; we do, before each run:

- same host (the lock's hostname is ours): the holder is dead when its pid is gone, is a
  zombie, or is a newer process that reused the pid (it started after the lock was taken);
- another host, a worker's run (PostgreSQL mode): `nt_runs` names the host, shard and
  procrastinate worker of every shard run, and `procrastinate_workers` its heartbeat
  (`RunHolders`). The lock belongs to the newest run of that shard on that host started
  before it was taken; its holder is dead once that run's worker stopped heart-beating for
  `NEON_TENANTS_WORKER_STALLED_SECONDS` (30 s: procrastinate's own stalled-worker timeout,
  three missed 10 s heartbeats) or was removed from the table (pruned, or shut down), and
  alive while the heartbeat is fresh, however long the run takes;
- another host, anything else (FleetManager in-process, a plain `pulumi up`): we cannot see
  its processes, so a lock is a lease. Every neon-tenants process renews the locks its
  host's live engines hold (`LeaseKeeper`, file mtime or the row's `updated_at`), so such a
  lock is stale once neither its timestamp nor its last renewal is younger than the lease
  (`NEON_TENANTS_LOCK_LEASE_SECONDS`, 900 s). A plain `pulumi up` on another host renews
  nothing: keep such runs shorter than the lease.

A lock whose holder is alive is never touched. Other backends (Pulumi Cloud) release locks
server-side; `lock_store()` returns None for them.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

LOCKS_PREFIX = ".pulumi/locks/"
LEASE_ENV = "NEON_TENANTS_LOCK_LEASE_SECONDS"
DEFAULT_LEASE = timedelta(seconds=900)
STALLED_ENV = "NEON_TENANTS_WORKER_STALLED_SECONDS"
DEFAULT_STALLED = timedelta(seconds=30)  # procrastinate's stalled_worker_timeout default

Verdict = Literal["alive", "dead", "expired", "leased"]
Judged = Literal["alive", "dead"]


@dataclass(frozen=True)
class BackendLock:
    """One stack lock as the engine wrote it, plus when it was last renewed."""

    key: str  # backend key, `.pulumi/locks/organization/<project>/<stack>/<uuid>.json`
    project: str
    stack: str
    pid: int
    username: str
    hostname: str
    taken_at: datetime
    renewed_at: datetime

    @property
    def last_sign_of_life(self) -> datetime:
        return max(self.taken_at, self.renewed_at)

    def describe(self) -> str:
        when = self.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.stack}: pid {self.pid} on {self.hostname} since {when}"


class LockStore(Protocol):
    """Where a backend keeps its lock keys (a directory tree or a table)."""

    def locks(self) -> list[BackendLock]: ...

    def delete(self, lock: BackendLock) -> bool: ...

    def renew(self, lock: BackendLock) -> None: ...


def parse_lock(key: str, content: bytes | str, renewed_at: datetime) -> BackendLock | None:
    """A lock key and its JSON; None for anything that is not a stack lock file.

    The key may carry the bucket's prefix (the PostgreSQL backend prefixes every key with
    the database name: `neondb/.pulumi/locks/...`)."""
    at = key.find(LOCKS_PREFIX)
    if at < 0 or (at > 0 and key[at - 1] != "/"):
        return None
    parts = key[at + len(LOCKS_PREFIX) :].split("/")
    if len(parts) < 3 or not parts[-1].endswith(".json"):
        return None
    try:
        data = json.loads(content)
        taken = _parse_time(str(data["timestamp"]))
        pid = int(data.get("pid", 0))
    except (ValueError, KeyError, TypeError):
        return None
    return BackendLock(
        key=key,
        project=parts[-3],
        stack=parts[-2],
        pid=pid,
        username=str(data.get("username", "")),
        hostname=str(data.get("hostname", "")),
        taken_at=taken,
        renewed_at=renewed_at,
    )


def _parse_time(text: str) -> datetime:
    """Go's RFC 3339 with nanoseconds (Python keeps microseconds)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- judging a holder ---------------------------------------------------------------------


def _seconds_from_env(
    name: str, default: timedelta, environ: Mapping[str, str] | None
) -> timedelta:
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds (got {raw!r})") from None
    if seconds <= 0:
        raise ValueError(f"{name} must be > 0 seconds (got {raw!r})")
    return timedelta(seconds=seconds)


def lease_from_env(environ: Mapping[str, str] | None = None) -> timedelta:
    return _seconds_from_env(LEASE_ENV, DEFAULT_LEASE, environ)


def stalled_from_env(environ: Mapping[str, str] | None = None) -> timedelta:
    return _seconds_from_env(STALLED_ENV, DEFAULT_STALLED, environ)


class HolderJudge(Protocol):
    """Knows, for some locks of other hosts, whether their holder lives (None: unknown)."""

    def judge(self, lock: BackendLock) -> Judged | None: ...


def verdict(
    lock: BackendLock,
    *,
    host: str | None = None,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_LEASE,
    holders: HolderJudge | None = None,
) -> Verdict:
    """alive / dead (same host, or a worker's run on another host) or leased / expired
    (another host, holder unknown)."""
    if lock.hostname == (host or socket.gethostname()):
        return "alive" if process_alive(lock.pid, since=lock.taken_at) else "dead"
    judged = holders.judge(lock) if holders is not None else None
    if judged is not None:
        return judged
    moment = now or datetime.now(UTC)
    return "leased" if moment - lock.last_sign_of_life < lease else "expired"


def is_stale(lock: BackendLock, **kw: Any) -> bool:
    return verdict(lock, **kw) in ("dead", "expired")


def process_alive(pid: int, *, since: datetime | None = None) -> bool:
    """Whether `pid` runs on this host and is the process that existed at `since`.

    A zombie (killed, not yet reaped) is dead; a process that started after `since`
    reused the pid of a dead holder. Without /proc (not Linux) only the pid is checked.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is None:  # exited meanwhile, or no /proc (not Linux): trust the pid check
        return not Path("/proc").is_dir()
    state, started = stat
    if state in ("Z", "X"):
        return False
    if since is not None and started is not None and started > since + timedelta(seconds=2):
        return False
    return True


def _proc_stat(pid: int) -> tuple[str, datetime | None] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # "pid (comm) state ..."; comm may contain spaces and parentheses: split after the last ")".
    fields = raw[raw.rfind(")") + 2 :].split()
    state = fields[0] if fields else "?"
    try:
        ticks = int(fields[19])  # field 22 of stat(5): starttime, in clock ticks after boot
        start = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return state, None
    return state, datetime.fromtimestamp(start, UTC)


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text(encoding="utf-8").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


def clear_stale(
    store: LockStore,
    stack: str | None = None,
    *,
    project: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    host: str | None = None,
    now: datetime | None = None,
    holders: HolderJudge | None = None,
) -> list[BackendLock]:
    """Delete the stale locks of `stack` (every stack when None); returns what was cleared."""
    cleared: list[BackendLock] = []
    for lock in store.locks():
        if stack is not None and lock.stack != stack:
            continue
        if project is not None and lock.project != project:
            continue
        stale = is_stale(lock, lease=lease, host=host, now=now, holders=holders)
        if stale and store.delete(lock):
            cleared.append(lock)
    return cleared


# -- the two stores -----------------------------------------------------------------------


class FileLockStore:
    """`file://DIR`: lock files under DIR/.pulumi/locks; renewal = the file's mtime."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def locks(self) -> list[BackendLock]:
        base = self.root / LOCKS_PREFIX
        found: list[BackendLock] = []
        for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
            try:
                content = path.read_bytes()
                renewed = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:  # released meanwhile
                continue
            lock = parse_lock(path.relative_to(self.root).as_posix(), content, renewed)
            if lock is not None:
                found.append(lock)
        return found

    def delete(self, lock: BackendLock) -> bool:
        path = self.root / lock.key
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        path.with_name(path.name + ".attrs").unlink(missing_ok=True)  # fileblob's sidecar
        return True

    def repair_torn_sidecars(self, stack: str | None = None) -> list[Path]:
        """Delete `.attrs` sidecars a killed writer left empty or cut short.

        gocloud's fileblob (the file backend's storage) replaces a blob atomically (temp file
        + rename) but writes its metadata sidecar `<key>.attrs` in place (os.Create, then
        encode): a SIGKILL in between leaves an empty sidecar, and every later read of that
        checkpoint fails with "failed to load checkpoint: EOF", for good. A missing sidecar
        is read as default metadata, so removing a torn one loses nothing. `stack`: only
        that stack's checkpoint files (cheap, before every run); None: the whole backend.
        """
        base = self.root / ".pulumi"
        if stack is None:
            candidates = base.rglob("*.attrs") if base.is_dir() else iter(())
        else:
            candidates = (base / "stacks").glob(f"*/{stack}.json*.attrs")
        removed: list[Path] = []
        for path in candidates:
            try:
                json.loads(path.read_bytes())
            except (ValueError, OSError):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def renew(self, lock: BackendLock) -> None:
        try:
            os.utime(self.root / lock.key)
        except FileNotFoundError:
            pass


class PostgresLockStore:
    """`postgres://...?table=T` (the engine's DIY PostgreSQL backend): rows `key, data JSON,
    updated_at` in table T (default pulumi_state), the blob base64-encoded as
    `data = {"data": "<base64>"}` (pkg/backend/diy/postgres/bucket.go); renewal =
    `updated_at = now()`."""

    def __init__(
        self, conninfo: str, table: str, password: str | None = None, prefix: str = ""
    ) -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"the state table name must be an identifier (got {table!r})")
        self.conninfo = conninfo
        self.table = table
        self.prefix = prefix  # the engine prefixes keys with the URL's path (the database)
        self._password = password

    def _connect(self) -> Any:
        import psycopg

        kw: dict[str, Any] = {"autocommit": True, "connect_timeout": 10}
        if self._password:
            kw["password"] = self._password
        return psycopg.connect(self.conninfo, **kw)

    def locks(self) -> list[BackendLock]:
        import psycopg

        query = f"SELECT key, data->>'data', updated_at FROM {self.table} WHERE key LIKE %s"
        try:
            with self._connect() as conn:
                rows = conn.execute(query, (self.prefix + LOCKS_PREFIX + "%",)).fetchall()
        except psycopg.errors.UndefinedTable:
            return []
        found: list[BackendLock] = []
        for key, data, updated in rows:
            renewed = updated if updated.tzinfo else updated.replace(tzinfo=UTC)
            try:
                content = base64.b64decode(str(data or ""), validate=True)
            except ValueError:
                continue
            lock = parse_lock(str(key), content, renewed)
            if lock is not None:
                found.append(lock)
        return found

    def stack_names(self, project: str) -> list[str]:
        """The project's stacks, read from the state table: `pulumi stack ls` on this
        backend (v3.274.1) hangs once a project has 4+ stacks (issue 11)."""
        import psycopg

        base = f"{self.prefix}.pulumi/stacks/{project}/"
        query = f"SELECT key FROM {self.table} WHERE key LIKE %s AND key LIKE %s"
        try:
            with self._connect() as conn:
                rows = conn.execute(query, (base + "%", "%.json")).fetchall()
        except psycopg.errors.UndefinedTable:
            return []
        names = (str(key)[len(base) : -len(".json")] for (key,) in rows)
        return sorted(n for n in names if n and "/" not in n)

    def delete(self, lock: BackendLock) -> bool:
        with self._connect() as conn:
            cur = conn.execute(f"DELETE FROM {self.table} WHERE key = %s", (lock.key,))
            return bool(cur.rowcount)

    def renew(self, lock: BackendLock) -> None:
        with self._connect() as conn:
            conn.execute(f"UPDATE {self.table} SET updated_at = now() WHERE key = %s", (lock.key,))


def lock_store(backend_url: str, env: Mapping[str, str] | None = None) -> LockStore | None:
    """The store behind a `PULUMI_BACKEND_URL`; None when the backend manages its own locks."""
    if backend_url.startswith("file://"):
        return FileLockStore(Path(backend_url.removeprefix("file://")).expanduser())
    if backend_url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(backend_url)
        query = parse_qsl(parts.query)
        table = dict(query).get("table") or "pulumi_state"
        rest = urlencode([(k, v) for k, v in query if k != "table"])
        conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        password = (env or {}).get("PGPASSWORD") or None
        prefix = parts.path.strip("/")
        return PostgresLockStore(conninfo, table, password, prefix=f"{prefix}/" if prefix else "")
    return None


# -- holders known from the runs table (PostgreSQL mode) ------------------------------------

_HOLDER_SQL = """
SELECT r.finished_at IS NOT NULL AS finished, r.worker_id,
       w.id IS NOT NULL AS registered,
       w.last_heartbeat >= now() - make_interval(secs => %(stalled)s) AS beating
  FROM nt_runs r LEFT JOIN procrastinate_workers w ON w.id = r.worker_id
 WHERE r.host = %(host)s AND r.tier = %(tier)s AND r.shard = %(shard)s
   AND r.started_at <= %(taken)s::timestamptz + make_interval(secs => %(skew)s)
 ORDER BY r.started_at DESC, r.id DESC
 LIMIT 1
"""


class RunHolders:
    """Judges a lock taken on another host by a worker's shard run (issue 11).

    `nt_runs` records each run's host, shard and procrastinate worker; the lock belongs to
    the newest run of its stack's shard on its host that started before the lock was taken
    (`skew` allows for clocks of different hosts). The worker beats every 10 s; silent for
    `stalled_after` (or gone from `procrastinate_workers`: pruned, or shut down, which
    procrastinate does only after its jobs ended) means the run and its engine are dead.
    Unknown (None, the lease decides): no such run (not a worker's lock), a run recorded
    before workers were (worker_id NULL), a run already finished, or no database.
    """

    def __init__(
        self,
        conninfo: str,
        stalled_after: timedelta = DEFAULT_STALLED,
        skew: timedelta = timedelta(seconds=60),
    ) -> None:
        self.conninfo = conninfo
        self.stalled_after = stalled_after
        self.skew = skew

    def judge(self, lock: BackendLock) -> Judged | None:
        import psycopg

        from neon_tenants.fleet.sharding import parse_stack_name

        try:
            ref = parse_stack_name(lock.stack)
        except ValueError:
            return None
        params = {
            "host": lock.hostname, "tier": ref.tier, "shard": ref.shard or 0,
            "taken": lock.taken_at, "skew": self.skew.total_seconds(),
            "stalled": self.stalled_after.total_seconds(),
        }
        try:
            with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10) as conn:
                row = conn.execute(_HOLDER_SQL, params).fetchone()
        except psycopg.Error:  # no runs table (yet), database away: the lease decides
            return None
        if row is None:
            return None
        finished, worker_id, registered, beating = row
        if finished or worker_id is None:
            return None
        return "alive" if registered and beating else "dead"


def run_holders(environ: Mapping[str, str] | None = None) -> RunHolders | None:
    """The judge of workers' locks when the fleet database is configured, else None."""
    from neon_tenants.db import database_url

    env = os.environ if environ is None else environ
    url = database_url(env)
    if url is None:
        return None
    return RunHolders(url.conninfo(), stalled_from_env(env))


# -- the lease ----------------------------------------------------------------------------


class LeaseKeeper:
    """Renews, every `lease / 4`, the locks held by live engines of this host, so another
    host can tell a long run from a dead one. One daemon thread per store; it dies with the
    process, which is the point: a killed holder stops renewing."""

    def __init__(self, store: LockStore, lease: timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.lease = lease
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def renew_once(self) -> list[BackendLock]:
        host = socket.gethostname()
        renewed: list[BackendLock] = []
        for lock in self.store.locks():
            if lock.hostname == host and process_alive(lock.pid, since=lock.taken_at):
                self.store.renew(lock)
                renewed.append(lock)
        return renewed

    def start(self) -> None:
        with self._guard:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="lock-lease", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        interval = max(self.lease.total_seconds() / 4, 0.05)
        while not self._stop.wait(interval):
            try:
                self.renew_once()
            except Exception:  # noqa: BLE001 - a failed renewal must not kill the run
                continue


def iter_stale(
    store: LockStore,
    *,
    lease: timedelta = DEFAULT_LEASE,
    project: str | None = None,
    holders: HolderJudge | None = None,
) -> Iterator[BackendLock]:
    """Read-only: the stale locks `audit` reports."""
    for lock in store.locks():
        if project is not None and lock.project != project:
            continue
        if is_stale(lock, lease=lease, holders=holders):
            yield lock
