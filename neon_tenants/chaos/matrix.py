"""One chaos case = one fleet operation x one fault profile, on its own emulator and state.

A case: a fresh metadata emulator and a fresh stacks/state root (so `audit`, which looks at
every project of the orgs, sees this case only); preconditions made without faults; the
profile switched on; the operation run by `driver.py` in its own process group (killed with
SIGKILL at a seeded moment in the `kill9` profile, the emulator restarted mid-run in
`restart`); then reruns, with the faults still on, until the operation converges (at most
`MAX_RERUNS`); then `audit` and independent counts from Neon and the state files.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from neon_tenants.chaos.driver import manager
from neon_tenants.fleet import FleetSpec, TenantSpec, save_fleet

MAX_RERUNS = 3
# seconds after the driver starts (Python start-up ~1 s included) in which kill -9 lands
KILL_WINDOW = {
    "shard_up": (2.0, 9.0),
    "undo": (1.0, 3.0),
    "snapshot": (1.0, 4.0),
    "delete": (1.0, 4.0),
}
RUN_TIMEOUT = 300.0
SHARD_TENANTS = 20

# -- fault profiles -----------------------------------------------------------------------

_CREATES = (
    "POST /projects",
    "POST /projects/{project_id}/branches",
    "POST /projects/{project_id}/branches/{branch_id}/snapshot",
    "POST /projects/{project_id}/endpoints",
    "POST /organizations/{source_org_id}/projects/transfer",
)

PROFILES: dict[str, list[dict[str, Any]]] = {
    "none": [],
    "errors": [  # 10 % 503 and 5 % 429 on every route
        {"route": "*", "error_rate": 0.10, "status": 503},
        {"route": "*", "error_rate": 0.05, "status": 429},
    ],
    "locked": [],  # 423 windows: see _lock_windows
    "drop": [{"route": r, "error_rate": 1.0, "drop_after_act": True} for r in _CREATES],
    "latency": [{"route": "*", "latency_ms": 500}],
    "restart": [],  # the emulator restarts once during the first run
    "kill9": [],  # the driver's process group gets SIGKILL once during the first run
}


@dataclass(frozen=True)
class Case:
    op: str
    profile: str

    @property
    def name(self) -> str:
        return f"{self.op} x {self.profile}"


@dataclass
class CaseResult:
    op: str
    profile: str
    seed: int
    first_run_ok: bool = False
    killed_at: float | None = None
    restarted: bool = False
    reruns: int = 0
    converged: bool = False
    ops_completed: int = 0
    ops_expected: int = 0
    duplicates: int = 0
    orphans: int = 0
    lost: int = 0
    plaintext_secrets: int = 0
    audit_consistent: bool = False
    audit_problems: list[str] = field(default_factory=list)
    check_failures: list[str] = field(default_factory=list)
    seconds_to_converge: float = 0.0
    unexpected_errors: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            self.converged
            and self.reruns <= 2
            and not (self.duplicates or self.orphans or self.lost or self.plaintext_secrets)
            and self.audit_consistent
            and not self.check_failures
            and not self.unexpected_errors
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


# -- the emulator of a case ---------------------------------------------------------------


class CaseEmulator:
    """A metadata emulator on a fixed port, so it can be restarted under the same URL."""

    def __init__(self, data_dir: Path, seed: int) -> None:
        from neon_emulator.testing import EmulatorProcess, free_port

        self.data_dir = data_dir
        self.port = free_port()
        self.config: dict[str, Any] = {"compute": "metadata", "fault_seed": seed}
        self._make: Callable[[], Any] = lambda: EmulatorProcess(
            data_dir, port=self.port, config=self.config
        )
        self.proc: Any = None

    def start(self) -> None:
        self.proc = self._make()
        self.proc.__enter__()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.__exit__(None, None, None)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def client_env(self) -> dict[str, str]:
        return dict(self.proc.client_env)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        url = f"http://127.0.0.1:{self.port}/_emulator/{path}"
        resp = httpx.request(method, url, json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def faults(self, rules: list[dict[str, Any]]) -> None:
        self.admin("PUT", "faults", {"faults": rules})


@contextmanager
def _lock_windows(emu: CaseEmulator, rng: random.Random) -> Iterator[None]:
    """423 windows: every mutation of every project answers 423 for 1-2 s, every 3-5 s."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(rng.uniform(1.0, 3.0)):
            try:
                emu.admin("POST", "lock", {"project_id": "*", "seconds": rng.uniform(1.0, 2.0)})
            except httpx.HTTPError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# -- running a case -----------------------------------------------------------------------


def _tenants(case: Case) -> list[str]:
    if case.op == "shard_up":
        return [f"t{i:02d}" for i in range(SHARD_TENANTS)]
    return ["t00"]


def _prepare(case: Case, root: Path, env: dict[str, str]) -> str:
    """Preconditions without faults; returns the driver's ARG."""
    tenant = "t00"
    with manager(root, env) as fm:
        if case.op == "shard_up":
            save_fleet(
                fm.fleet_path("free"),
                FleetSpec(
                    tier="free", shards=1, tenants=tuple(TenantSpec(id=t) for t in _tenants(case))
                ),
            )
            return "free"
        if case.op == "provision":
            return "free"
        fm.provision(tenant, "pro" if case.op == "downgrade" else "free")
        if case.op == "undo":
            time.sleep(1.2)
            moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            time.sleep(1.2)
            return moment
    return {"upgrade": "pro", "downgrade": "free", "snapshot": "s1", "dev_branch": "dev"}.get(
        case.op, ""
    )


def _drive(
    root: Path, env: dict[str, str], case: Case, arg: str, kill_after: float | None
) -> tuple[int, float | None, str]:
    cmd = [sys.executable, "-m", "neon_tenants.chaos.driver", str(root), case.op, "t00", arg]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    killed: float | None = None
    start = time.monotonic()
    try:
        if kill_after is not None:
            try:
                proc.wait(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = round(time.monotonic() - start, 2)
        _, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return 124, killed, "timeout"
    return proc.returncode, killed, err.decode(errors="replace").strip()[-400:]


def run_case(case: Case, seed: int, work: Path | None = None) -> CaseResult:
    rng = random.Random(f"{seed}:{case.name}")
    result = CaseResult(case.op, case.profile, seed)
    base = Path(tempfile.mkdtemp(prefix="chaos-", dir=work))
    emu = CaseEmulator(base / "emulator", rng.randrange(2**31))
    root = base / "fleet"
    try:
        emu.start()
        env = emu.client_env
        arg = _prepare(case, root, env)
        emu.faults(PROFILES[case.profile])
        kill_after = None
        if case.profile == "kill9":
            kill_after = rng.uniform(*KILL_WINDOW.get(case.op, (1.5, 6.0)))
        restarter: threading.Timer | None = None
        if case.profile == "restart":

            def restart() -> None:
                emu.restart()
                emu.faults(PROFILES[case.profile])
                result.restarted = True

            restarter = threading.Timer(rng.uniform(1.0, 3.0), restart)
        start = time.monotonic()
        windows = _lock_windows(emu, rng) if case.profile == "locked" else _null()
        with windows:
            if restarter is not None:
                restarter.start()
            code, killed, err = _drive(root, env, case, arg, kill_after)
            if restarter is not None:
                restarter.join()
            result.killed_at = killed
            result.first_run_ok = code == 0
            if code != 0 and err:
                result.errors.append(err)
            result.unexpected_errors += code == 2  # not a FleetError: nothing says what to do
            while code != 0 and result.reruns < MAX_RERUNS:
                result.reruns += 1
                code, _, err = _drive(root, env, case, arg, None)
                if code != 0 and err:
                    result.errors.append(err)
                result.unexpected_errors += code == 2
        result.converged = code == 0
        result.seconds_to_converge = round(time.monotonic() - start, 1)
        emu.faults([])
        _measure(case, root, env, result)
    except Exception as exc:  # noqa: BLE001 - a broken case is a result, not a crash
        result.errors.append(f"harness: {type(exc).__name__}: {exc}")
    finally:
        emu.stop()
        if os.environ.get("NEON_TENANTS_CHAOS_KEEP"):  # keep the case's dirs to look at
            result.errors.append(f"kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return result


@contextmanager
def _null() -> Iterator[None]:
    yield


# -- measuring ----------------------------------------------------------------------------

_URI_WITH_PASSWORD = re.compile(rb"postgres(?:ql)?://[^:/@\s\"]+:(?!\*\*\*\*)[^@\s\"]+@")


def _measure(case: Case, root: Path, env: dict[str, str], r: CaseResult) -> None:
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    tenants = _tenants(case)
    deleted = case.op == "delete"
    tier = "pro" if case.op == "upgrade" else "free"
    creds = NeonCredentials.from_file(Path(env["NEON_CREDENTIALS_FILE"]))
    with NeonClient(creds, ClientConfig(base_url=env["NEON_API_BASE_URL"])) as client:
        names: Counter[str] = Counter()
        where: dict[str, str] = {}
        for alias in creds.orgs:
            for p in client.org(alias).iter_projects():
                names[p.name] += 1
                where[p.name] = alias
        r.duplicates = sum(n - 1 for n in names.values() if n > 1)
        expected = {f"nt-{t}" for t in tenants}
        r.lost = 0 if deleted else len(expected - set(names))
        r.ops_expected = len(tenants)
        with manager(root, env) as fm:
            report = fm.audit()
            r.audit_consistent = report.consistent
            r.audit_problems = [f"{f.kind}:{f.subject}" for f in report.problems]
            r.orphans = len(report.of_kind("orphan_project")) + (
                sum(1 for n in expected if n in names) if deleted else 0
            )
            conns = {} if deleted else fm.connections(tier)
            r.ops_completed = (
                (1 if r.converged and "nt-t00" not in names else 0)
                if deleted
                else sum(1 for t in tenants if t in conns)
            )
            passwords = [
                urlsplit(c.connection_uri.get_secret_value()).password or "" for c in conns.values()
            ]
            r.plaintext_secrets = _plaintext_in_state(root / "state", passwords)
            if not deleted:
                r.check_failures = _op_checks(case, client, conns, where)


def _plaintext_in_state(state: Path, passwords: list[str]) -> int:
    """Files of the backend (checkpoints, history, backups) holding a password in clear."""
    hits = 0
    needles = [p.encode() for p in passwords if len(p) >= 8]
    for path in state.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if _URI_WITH_PASSWORD.search(data) or any(n in data for n in needles):
            hits += 1
    return hits


def _op_checks(case: Case, client: Any, conns: dict[str, Any], where: dict[str, str]) -> list[str]:
    """What the operation promised, read back from Neon."""
    out: list[str] = []
    conn = conns.get("t00")
    if conn is None:
        return ["t00 has no outputs"]
    org = client.org(where.get("nt-t00", "free"))
    if case.op in ("upgrade", "downgrade"):
        want = "paid" if case.op == "upgrade" else "free"
        if where.get("nt-t00") != want:
            out.append(f"project in org {where.get('nt-t00')}, expected {want}")
    if case.op == "snapshot":
        snaps = [s.name for s in org.list_snapshots(conn.project_id)]
        if snaps.count("s1") != 1:
            out.append(f"snapshots named s1: {snaps.count('s1')}")
    if case.op == "dev_branch":
        branches = [b.name for b in org.iter_branches(conn.project_id)]
        if branches.count("dev") != 1:
            out.append(f"branches named dev: {branches.count('dev')}")
    return out


def cases(profile: str) -> list[Case]:
    """`short`: each fault profile at least once and four kill -9 points (make test);
    `full`: every operation under every profile (make chaos)."""
    if profile == "short":
        return [
            Case("provision", "errors"),
            Case("upgrade", "drop"),
            Case("snapshot", "locked"),
            Case("dev_branch", "latency"),
            Case("delete", "restart"),
            Case("provision", "kill9"),
            Case("snapshot", "kill9"),
            Case("downgrade", "kill9"),
            Case("shard_up", "kill9"),
        ]
    from neon_tenants.chaos.driver import OPS

    return [Case(op, p) for op in OPS for p in PROFILES if p != "none"]


def run_matrix(
    profile: str, seed: int, *, on_result: Callable[[CaseResult], None] | None = None
) -> list[CaseResult]:
    results: list[CaseResult] = []
    for case in cases(profile):
        result = run_case(case, seed)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def dumps(results: list[CaseResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)
