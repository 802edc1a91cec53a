"""`neon-tenants demo` (`make run`): the whole story on the local emulator, no credentials.

Starts the emulator on `.emulator/`, `up`s the free and pro demo fleets (a copy of
stacks/fleets/ kept in `.emulator/stacks`),
connects to every tenant (select 1, a row written), upgrades a tenant free -> pro (same
project id), shows an undo (point-in-time restore), then moves the tenant back so the
next run starts from the same fleets. Pulumi state lives beside the emulator's data
(`.emulator/pulumi-state`, work dir `.emulator/work`), so the two always describe the same
world and the committed stack files are never touched. Leaves the emulator
stopped, its state kept.
"""

from __future__ import annotations

import os
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from neon_tenants.automation import FleetError, FleetManager, TenantConnection
from neon_tenants.automation._errors import scrub
from neon_tenants.cli._output import Output
from neon_tenants.client._credentials import CREDENTIAL_ENV_VARS

UPGRADE_TENANT = "demo-c"
_NEON_VARS = {"NEON_API_KEY", "NEON_API_BASE_URL", *CREDENTIAL_ENV_VARS}
UNDO_TENANT = "demo-a"


def _connect(uri: str, attempts: int = 40) -> Any:
    """Computes wake up on connect; after a restore the endpoint restarts, so retry."""
    import psycopg

    last: Exception | None = None
    for _ in range(attempts):
        try:
            return psycopg.connect(uri, connect_timeout=5, autocommit=True)
        except psycopg.OperationalError as exc:
            last = exc
            time.sleep(0.5)
    raise RuntimeError(f"could not connect: {scrub(str(last))}")


def _touch(conn: TenantConnection, note: str) -> int:
    with _connect(conn.connection_uri.get_secret_value()) as db:
        assert db.execute("select 1").fetchone() == (1,)
        db.execute(
            "create table if not exists demo_events"
            " (id serial primary key, note text, at timestamptz default now())"
        )
        db.execute("insert into demo_events (note) values (%s)", (note,))
        row = db.execute("select count(*) from demo_events").fetchone()
        return int(row[0]) if row else 0


def _rows(conn: TenantConnection) -> list[tuple[Any, ...]]:
    with _connect(conn.connection_uri.get_secret_value()) as db:
        return list(db.execute("select id, note, at from demo_events order by id").fetchall())


def _demo_stacks(committed: Path, target: Path) -> Path:
    """The demo edits a copy of the committed fleets (kept with the emulator's state), so
    `make run` never dirties stacks/fleets/ and the copy matches the demo's Pulumi state.
    The copy uses platform prefix `demo`: project names (`demo-<tenant>`) then never collide
    with what `neon-tenants up` makes from the committed fleets (`nt-<tenant>`) on the same
    emulator, since the provider adopts a project it finds by name."""
    import shutil

    from neon_tenants.fleet import load_fleet, save_fleet

    if not (target / "fleets").exists():
        (target / "fleets").mkdir(parents=True)
        for path in sorted((committed / "fleets").glob("*.yaml")):
            fleet = load_fleet(path).model_copy(update={"platform": "demo"})
            save_fleet(target / "fleets" / path.name, fleet)
        if (committed / "tiers.yaml").exists():
            shutil.copy2(committed / "tiers.yaml", target / "tiers.yaml")
    return target


def run_demo(data_dir: str) -> int:
    from neon_emulator.testing import EmulatorProcess
    from neon_tenants._settings import paths
    from neon_tenants.cli._background import running

    console = Console(highlight=False)
    ignored = sorted(k for k in os.environ if k in _NEON_VARS)
    for name in ignored:  # the demo never talks to real Neon; env keys would win over the file
        del os.environ[name]
    if ignored:
        console.print(f"[yellow]demo runs on the local emulator; ignoring {', '.join(ignored)}[/]")
    p = paths()
    emu_dir = Path(data_dir) if Path(data_dir).is_absolute() else p.repo_root / data_dir
    out = Output()
    # `neon-tenants emulator start` may already serve this data dir: share it (two servers
    # on one data dir would overwrite each other's state), and leave it running.
    background = running(emu_dir)
    emulator = nullcontext(background) if background is not None else EmulatorProcess(emu_dir)
    try:
        with out.progress() as on_event, emulator as emu:
            console.print(f"[bold]emulator[/] {emu.base_url} (data: {emu_dir})")
            with FleetManager(
                _demo_stacks(p.repo_root / "stacks", emu_dir / "stacks"),
                work_dir=emu_dir / "work",
                backend_url=f"file://{emu_dir / 'pulumi-state'}",
                lock_dir=emu_dir / "locks",
                neon_env=emu.client_env,
                on_event=on_event,
            ) as fm:
                _story(fm, console)
    except FleetError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 1
    if background is None:
        console.print("[dim]emulator stopped; state kept for the next run[/]")
    return 0


def _story(fm: FleetManager, console: Console) -> None:
    found = fm.locate(UPGRADE_TENANT)
    if found is not None and found[0].tier == "pro":
        fm.downgrade(UPGRADE_TENANT, "free")  # a previous run stopped half-way: start clean
    for tier in ("free", "pro"):
        fm.up(tier)
    table = Table(title="tenants (each just connected: select 1 + a row written)")
    for col in ("tenant", "tier", "project", "rows"):
        table.add_column(col, no_wrap=True)
    table.add_column("connection (password masked)", overflow="fold")
    for tier in ("free", "pro"):
        for tenant, conn in sorted(fm.connections(tier).items()):
            rows = _touch(conn, f"hello from {tenant}")
            table.add_row(tenant, tier, conn.project_id, str(rows), conn.public()["connection_uri"])
    console.print(table)

    before = fm.show(UPGRADE_TENANT)
    after = fm.upgrade(UPGRADE_TENANT, "pro")
    console.print(
        f"[bold]upgrade[/] {UPGRADE_TENANT}: free -> pro, project {before.project_id} -> "
        f"{after.project_id} ({'same' if before.project_id == after.project_id else 'CHANGED'}),"
        f" org {before.org_id} -> {after.org_id}, stack {before.stack} -> {after.stack}"
    )
    _touch(after, "still here after the upgrade")

    conn = fm.show(UNDO_TENANT)
    _touch(conn, "before T")
    time.sleep(1.5)
    moment = datetime.now(UTC)
    time.sleep(1.5)
    _touch(conn, "after T (will be undone)")
    result = fm.restore(UNDO_TENANT, moment)
    console.print(
        f"[bold]undo[/] {UNDO_TENANT}: restored to {result.restored_to}; "
        f"previous state kept as branch {result.preserved_branch}"
    )
    table = Table(title=f"{UNDO_TENANT}.demo_events after the undo")
    for col in ("id", "note", "at"):
        table.add_column(col)
    for row in _rows(conn):
        table.add_row(*(str(v) for v in row))
    console.print(table)

    back = fm.downgrade(UPGRADE_TENANT, "free")
    console.print(
        f"[bold]downgrade[/] {UPGRADE_TENANT}: pro -> free (usage fits), project "
        f"{back.project_id}; the demo fleet is back to its start"
    )
