"""`neon-tenants db migrate` and `neon-tenants fleet import|export` (PostgreSQL mode, #11).

The database URL comes from `NEON_TENANTS_DATABASE_URL` only (never an option: a URL with a
password on a command line shows in process listings and shell history). Output and errors
name the database by its redacted URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from neon_tenants.cli._output import Output

db_app = typer.Typer(no_args_is_help=True, help="The PostgreSQL mode's database.")
fleet_app = typer.Typer(
    no_args_is_help=True,
    help="A tier's fleet: its app revision (set), moved between fleet files and PostgreSQL.",
)

JSON = typer.Option(False, "--json", help="machine-readable output on stdout")
FILE = typer.Option(None, help="default: stacks/fleets/<tier>.yaml")
WORK_DIR = typer.Option(
    None, envvar="NEON_TENANTS_WORK_DIR",
    help="this worker's own Pulumi work dir (default: ~/.neon-tenants/worker)",
)


def _database(out: Output) -> tuple[str, str]:
    """(conninfo, redacted) or exit 1 with what to set."""
    from neon_tenants.db import DATABASE_URL_ENV, DatabaseUrlError, database_url

    try:
        url = database_url()
    except DatabaseUrlError as exc:
        out.error(str(exc), kind="InvalidRequest", status=422)
        raise typer.Exit(1) from None
    if url is None:
        out.error(f"{DATABASE_URL_ENV} is not set (postgresql://user@host:port/db)", status=422)
        raise typer.Exit(1)
    return url.conninfo(), url.redacted


def _fail(out: Output, exc: Exception, conninfo: str) -> typer.Exit:
    from neon_tenants.db import DatabaseUrl

    out.error(DatabaseUrl.parse(conninfo).scrub(str(exc)), kind=type(exc).__name__, status=503)
    return typer.Exit(1)


@db_app.command("migrate")
def migrate(as_json: bool = JSON) -> None:
    """Apply the fleet store's and the job queue's schema (idempotent, versioned)."""
    import psycopg

    from neon_tenants.db.schema import LATEST
    from neon_tenants.db.schema import migrate as run_migrations

    out = Output(as_json)
    conninfo, shown = _database(out)
    try:
        applied = run_migrations(conninfo)
    except psycopg.Error as exc:
        raise _fail(out, exc, conninfo) from None
    out.data(
        {
            "database": shown,
            "applied": [f"{m.version}: {m.name}" for m in applied],
            "schema_version": LATEST,
        }
    )


def _stacks_dir() -> Path:
    """The stacks dir every CLI command uses (`NEON_TENANTS_STACKS_DIR`, else the project's)."""
    from neon_tenants.cli.stacks_cmds import stacks_dir

    return stacks_dir()


def _require_postgres(out: Output, tier: str) -> None:
    """The tier's stack config must choose postgres (fleet/store_choice.py), else exit 1."""
    from neon_tenants.fleet.store_choice import StoreConfigError, tier_store

    try:
        choice = tier_store(_stacks_dir(), tier)
    except StoreConfigError as exc:
        out.error(str(exc), kind="InvalidRequest", status=422)
        raise typer.Exit(1) from None
    if choice.kind != "postgres":
        out.error(
            f"tier {tier} uses the files store ({choice.why}); "
            f"`neon-tenants fleet import --tier {tier}` moves it to postgres",
            kind="InvalidRequest", status=422,
        )
        raise typer.Exit(1)


@fleet_app.command("import")
def fleet_import(
    tier: str = typer.Option(..., "--tier", "-t", help="tier whose fleet file to import"),
    file: Path | None = FILE,
    as_json: bool = JSON,
) -> None:
    """Copy a tier's fleet file into PostgreSQL (upsert; unchanged tenants stay ready)."""
    import psycopg

    from neon_tenants.db.store import PostgresFleetStore, ShardCountChanged
    from neon_tenants.fleet.spec import load_fleet

    out = Output(as_json)
    conninfo, shown = _database(out)
    path = file or _stacks_dir() / "fleets" / f"{tier}.yaml"
    try:
        fleet = load_fleet(path, tier=tier)
    except (OSError, ValueError) as exc:
        out.error(str(exc), kind="InvalidRequest", status=422)
        raise typer.Exit(1) from None
    store = PostgresFleetStore(conninfo, max_size=1)
    try:
        changed = store.import_fleet(fleet)
        pending = [n for n in range(fleet.shards) if store.has_pending(tier, n)]
        if pending:  # a changed spec is applied by its shard's run: queue it now
            from neon_tenants.jobs._tasks import defer_shard, make_app

            app = make_app(conninfo)
            app.open()
            try:
                for shard in pending:
                    defer_shard(app, tier, shard)
            finally:
                app.close()
    except ShardCountChanged as exc:
        out.error(str(exc), kind="InvalidRequest", status=409)
        raise typer.Exit(1) from None
    except psycopg.Error as exc:
        raise _fail(out, exc, conninfo) from None
    finally:
        store.close()
    from neon_tenants.fleet.store_choice import set_fleet_store

    configs = set_fleet_store(_stacks_dir(), tier, "postgres")  # the config says where now
    out.data({"tier": tier, "file": str(path), "database": shown,
              "tenants": len(fleet.tenants), "changed": changed, "queued_shards": pending,
              "fleet_store": "postgres", "stack_configs": [c.name for c in configs]})


@fleet_app.command("export")
def fleet_export(
    tier: str = typer.Option(..., "--tier", "-t", help="tier to export"),
    file: Path | None = FILE,
    as_json: bool = JSON,
) -> None:
    """Write a tier's fleet from PostgreSQL to its fleet file (atomic write)."""
    import psycopg

    from neon_tenants.db.store import PostgresFleetStore
    from neon_tenants.fleet.spec import save_fleet

    out = Output(as_json)
    conninfo, shown = _database(out)
    store = PostgresFleetStore(conninfo, max_size=1)
    try:
        fleet = store.load_fleet(tier)
    except psycopg.Error as exc:
        raise _fail(out, exc, conninfo) from None
    finally:
        store.close()
    if fleet is None:
        out.error(f"tier {tier!r} has no fleet in {shown}", kind="TenantNotFound", status=404)
        raise typer.Exit(1)
    path = file or _stacks_dir() / "fleets" / f"{tier}.yaml"
    save_fleet(path, fleet)
    from neon_tenants.fleet.store_choice import set_fleet_store

    configs = set_fleet_store(_stacks_dir(), tier, "files")
    out.data({"tier": tier, "file": str(path), "database": shown, "tenants": len(fleet.tenants),
              "fleet_store": "files", "stack_configs": [c.name for c in configs]})


def worker(
    work_dir: Path | None = WORK_DIR,
    concurrency: int = typer.Option(1, min=1, help="shard jobs run at once by this process"),
    heartbeat: float = typer.Option(10.0, help="seconds between this worker's heartbeats"),
    stalled_after: float = typer.Option(
        30.0, help="a worker silent this long is dead: its job is re-queued"
    ),
    recover_every: float = typer.Option(10.0, help="seconds between stalled-job checks"),
    until_idle: bool = typer.Option(False, help="exit once the queue is empty"),
    usage: bool = typer.Option(False, "--usage", help="run the 15-minute usage cycle only"),
    shards_only: bool = typer.Option(
        False, "--shards-only", help="run shard jobs only, not the usage cycle"
    ),
) -> None:
    """Run shard jobs from the PostgreSQL queue (any number of workers, on any hosts), and the
    15-minute usage cycle on its own queue and slot (issue 13; one cycle at a time over all
    workers); --usage: the cycle only; --shards-only: shard jobs only. With --concurrency N
    jobs of N different shards run at once (never two of one shard)."""
    from neon_tenants._env import SharedBackendSecrets
    from neon_tenants.archive.resource import ArchiveDirRequired, require_shared_dir
    from neon_tenants.jobs import WorkerSettings, run_worker

    out = Output(False)
    conninfo, shown = _database(out)
    if not usage:  # the usage cycle archives nothing
        try:
            require_shared_dir(os.environ)
        except ArchiveDirRequired as exc:  # one line, unwrapped (logs of a service manager)
            out.err.print(f"[red]error:[/] {exc}", soft_wrap=True, markup=True)
            raise typer.Exit(1) from None
    settings = WorkerSettings(
        conninfo=conninfo,
        work_dir=work_dir or Path.home() / ".neon-tenants" / "worker",
        concurrency=concurrency,
        heartbeat_every=heartbeat,
        stalled_after=stalled_after,
        recover_every=recover_every,
        stacks_dir=_stacks_dir(),
        stop_when_idle=until_idle,
        usage=not shards_only,
    )
    out.err.print(f"worker {settings.name} on {shown}, work dir {settings.work_dir}")
    try:
        if usage:
            from neon_tenants.monitoring.jobs import run_usage_worker

            run_usage_worker(settings)
        else:
            run_worker(settings)
    except SharedBackendSecrets as exc:
        out.error(str(exc), status=503)
        raise typer.Exit(1) from None
    except ArchiveDirRequired as exc:
        out.error(str(exc), kind="InvalidRequest", status=422)
        raise typer.Exit(1) from None


def reshard(
    tier: str = typer.Option(..., "--tier", "-t", help="tier to reshard"),
    shards: int = typer.Option(
        ..., "--shards", min=1, max=99, help="new number of shards (1: the one stack <tier>)"
    ),
    work_dir: Path | None = WORK_DIR,
    as_json: bool = JSON,
) -> None:
    """Move tenants between shard stacks (state only: Neon untouched, same project ids).

    Safe to rerun after an interruption; waits for running shard jobs of the tier."""
    from neon_tenants.automation._errors import translate
    from neon_tenants.automation._workspace import Engine, engine_env
    from neon_tenants.db.reshard import reshard as run_reshard
    from neon_tenants.db.store import PostgresFleetStore

    out = Output(as_json)
    conninfo, shown = _database(out)
    _require_postgres(out, tier)
    store = PostgresFleetStore(conninfo, max_size=2)
    try:
        engine = Engine(work_dir or Path.home() / ".neon-tenants" / "reshard", engine_env())
        report = run_reshard(store, engine, tier, shards, on_step=out.text)
    except (LookupError, ValueError) as exc:
        out.error(str(exc), kind="InvalidRequest", status=422)
        raise typer.Exit(1) from None
    except Exception as exc:  # noqa: BLE001 - one place turns engine errors into a line
        err = translate(exc)
        out.error(str(err), kind=type(err).__name__, status=err.http_status)
        raise typer.Exit(1) from None
    finally:
        store.close()
    out.data({"tier": tier, "database": shown, "shards": f"{report.old_shards} -> {shards}",
              "moved": len(report.moved), "leftovers_dropped": report.dropped_leftovers})
