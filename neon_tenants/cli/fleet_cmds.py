"""`neon-tenants up|preview|destroy` and `neon-tenants tenant ...`: thin wrappers over
FleetManager; every command has `--json` and exits 1 on a FleetError."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from neon_tenants.automation import FleetManager
from neon_tenants.cli._output import Output

tenant_app = typer.Typer(no_args_is_help=True, help="One tenant: provision, move, undo, delete.")
branch_app = typer.Typer(no_args_is_help=True, help="A tenant's development branches.")
tenant_app.add_typer(branch_app, name="branch")

JSON = typer.Option(False, "--json", help="machine-readable output on stdout")
TIER = typer.Option(..., "--tier", "-t", help="tier name from the catalog")
TIERS = typer.Option(None, "--tier", "-t", help="default: every fleet on disk")
TENANTS = typer.Argument(..., help="tenant ids")
NO_WAIT = typer.Option(
    False, "--no-wait",
    help="return the request's status at once (PostgreSQL mode: queued for a worker; "
    "follow it with `tenant status --wait`)",
)


@contextmanager
def _session(
    as_json: bool, *, markdown: bool = False, check: bool = False, fleets: list[str] | None = None
) -> Iterator[tuple[FleetManager, Output]]:
    """A FleetManager with every error turned into one line per problem and exit 1.

    `check`: check the `fleets` tiers' fleet files (None: every one) before any engine
    starts or Neon is called, so a hand-edited mistake names file, tenant, field and tier.
    """
    from neon_tenants.cli._context import fleet_manager
    from neon_tenants.cli._errors import fail

    out = Output(as_json or markdown)
    try:
        if check:
            from neon_tenants.cli._fleet_check import check_fleet_files
            from neon_tenants.cli.stacks_cmds import stacks_dir

            check_fleet_files(stacks_dir(), fleets)
        with out.progress() as on_event, fleet_manager(on_event) as fm:
            yield fm, out
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - FleetError and the rest: one line each
        fail(out, exc, markdown=markdown)


def _queued(no_wait: bool, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`method(*args, **kwargs)`, with `wait=False` for --no-wait (its status at once)."""
    if no_wait:
        kwargs["wait"] = False
    return method(*args, **kwargs)


def _run(
    as_json: bool,
    action: Callable[[FleetManager], Any],
    fleets: list[str] | None = None,
) -> None:
    with _session(as_json, check=fleets is not None, fleets=fleets) as (fm, out):
        result = action(fm)
        if result is None:
            out.data({"ok": True})
        elif hasattr(result, "public"):
            out.data(result.public())
        elif hasattr(result, "model_dump"):
            out.data(result.model_dump(mode="json"))
        else:
            out.data(result)


def up(
    tier: str = TIER,
    shard: int | None = typer.Option(None, help="only this shard"),
    as_json: bool = JSON,
) -> None:
    """Create/update every tenant of a tier's fleet (or one shard)."""
    _run(as_json, lambda fm: {"stacks": fm.up(tier, shard)}, fleets=[tier])


def destroy(
    tier: str = TIER,
    shard: int | None = typer.Option(None, help="only this shard"),
    yes: bool = typer.Option(False, "--yes", help="confirm: deletes every project of the tier"),
    as_json: bool = JSON,
) -> None:
    """Delete every tenant database of a tier (or one shard)."""
    if not yes:
        Output(as_json).error("destroy deletes projects: pass --yes to confirm")
        raise typer.Exit(1)
    _run(as_json, lambda fm: {"stacks": fm.destroy(tier, shard)})


def rollout(
    tier: str = TIER,
    revision: str = typer.Option(..., "--revision", "-r", help="the app revision to migrate to"),
    canary: int = typer.Option(1, "--canary", help="tenants migrated first"),
    batch: int = typer.Option(50, "--batch", help="tenants per wave (one engine run each)"),
    migration_command: str | None = typer.Option(
        None, "--migration-command",
        help="bring in the fleet's migration command with this rollout (checkpoints first)"),
    no_wait: bool = typer.Option(
        False, "--no-wait",
        help="PostgreSQL mode: return the queued rollout's status at once (a worker runs it)"),
    as_json: bool = JSON,
) -> None:
    """Migrate a tier's tenants to an app revision in waves (checkpoints first, canaries
    first, then shard by shard, `--batch` tenants per wave); stops after a wave with a failed
    migration, rolling the failed tenants back. Exit 1 when it stopped. PostgreSQL mode: one
    queued operation a worker runs, one rollout per tier at a time."""
    failed: list[bool] = []

    def run(fm: FleetManager) -> Any:
        if no_wait:
            return fm.rollout(tier, revision, canary=canary, batch=batch,
                              migration_command=migration_command, wait=False)
        result = fm.rollout(tier, revision, canary=canary, batch=batch,
                            migration_command=migration_command)
        failed.append(not result.ok)
        return result

    _run(as_json, run, fleets=[tier])
    if any(failed):
        raise typer.Exit(1)


def fleet_set(
    tier: str = typer.Argument(..., help="tier name from the catalog"),
    app_revision: str | None = typer.Option(
        None, "--app-revision", "-r", help="the app revision the tier's tenants run"),
    migration_command: str | None = typer.Option(
        None, "--migration-command",
        help="run once per tenant per revision (`sh -c`, $DATABASE_URL in its env)"),
    as_json: bool = JSON,
) -> None:
    """Set a tier's fleet-level app revision and/or migration command, in either store
    (fleet files: the file changes and the next `up` applies it; PostgreSQL: the tenants
    without a pin go pending and workers apply them). A new revision that would migrate
    tenants is refused: `rollout` checkpoints first."""

    def run(fm: FleetManager) -> Any:
        fleet = fm.set_fleet_revision(tier, app_revision=app_revision,
                                      migration_command=migration_command)
        return {"tier": tier, "app_revision": fleet.app_revision,
                "migration_command": fleet.migration_command,
                "fleet_store": fm.store_choice.kind}

    _run(as_json, run)


def preview(
    tier: list[str] | None = TIERS,
    markdown: bool = typer.Option(False, "--markdown", help="a pull-request comment"),
    as_json: bool = JSON,
) -> None:
    """What a fleet change will do. Exit codes: 0 no changes, 2 changes, 1 error."""
    from neon_tenants.automation.preview import dumps

    out = Output(as_json or markdown)
    with _session(as_json, markdown=markdown, check=True, fleets=tier or None) as (fm, _):
        diff = fm.preview(tier or None)
    if as_json:
        typer.echo(dumps(diff))
    elif markdown:
        typer.echo(diff.to_markdown())
    else:
        out.console.print(diff.to_markdown())
    raise typer.Exit(diff.exit_code)


@tenant_app.command("provision")
def provision(
    tenant: str,
    tier: str = TIER,
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Create the tenant's database (idempotent) and print its connection info."""
    _run(as_json, lambda fm: _queued(no_wait, fm.provision, tenant, tier))


@tenant_app.command("status")
def status(
    tenant: str,
    wait: float = typer.Option(0.0, help="wait up to this many seconds for ready/failed"),
    as_json: bool = JSON,
) -> None:
    """Where the tenant's last request is: pending, applying, ready or failed (with error)."""
    _run(as_json, lambda fm: fm.wait(tenant, wait) if wait > 0 else fm.status(tenant))


@tenant_app.command("upgrade")
def upgrade(tenant: str, tier: str = TIER, no_wait: bool = NO_WAIT,
            as_json: bool = JSON) -> None:
    """Move to a bigger tier: same project (transfer, then quotas)."""
    _run(as_json, lambda fm: _queued(no_wait, fm.upgrade, tenant, tier))


@tenant_app.command("downgrade")
def downgrade(tenant: str, tier: str = TIER, no_wait: bool = NO_WAIT,
              as_json: bool = JSON) -> None:
    """Move to a smaller tier; refused with the numbers if usage does not fit."""
    _run(as_json, lambda fm: _queued(no_wait, fm.downgrade, tenant, tier))


@tenant_app.command("restore")
def restore(
    tenant: str,
    at: str = typer.Option(..., "--at", help="RFC 3339 timestamp, e.g. 2026-11-27T14:00:00Z"),
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Undo: restore the default branch to a point in time (old state kept as a branch)."""
    _run(as_json, lambda fm: _queued(no_wait, fm.restore, tenant, at))


@tenant_app.command("snapshot")
def snapshot(
    tenant: str,
    name: str,
    restore_it: bool = typer.Option(False, "--restore", help="restore this snapshot"),
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Take a named snapshot (rotated per tier policy), or restore one with --restore."""
    if restore_it:
        _run(as_json, lambda fm: _queued(no_wait, fm.restore_snapshot, tenant, name))
    else:
        _run(as_json, lambda fm: _queued(no_wait, fm.snapshot, tenant, name))


@tenant_app.command("delete")
def delete(tenant: str, no_wait: bool = NO_WAIT, as_json: bool = JSON) -> None:
    """Archive the tenant (pg_dump + manifest), then remove it from its fleet and delete its
    project; a failed archive keeps the project."""
    _run(as_json, lambda fm: _queued(no_wait, fm.delete, tenant))


META = typer.Option(None, "--meta", help="KEY=VALUE, repeatable")


@tenant_app.command("checkpoint")
def checkpoint(
    tenant: str,
    label: str,
    app_revision: str | None = typer.Option(None, "--app-revision", help="default: current"),
    meta: list[str] | None = META,
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Compound checkpoint: a snapshot + the app revision + metadata, recorded in the fleet."""
    pairs: dict[str, str | None] = {}
    for item in meta or []:
        key, _, value = item.partition("=")
        pairs[key] = value
    _run(
        as_json,
        lambda fm: _queued(no_wait, fm.checkpoint, tenant, label, app_revision=app_revision,
                           metadata=pairs),
    )


@tenant_app.command("checkpoints")
def checkpoints(
    tenant: str,
    history: bool = typer.Option(
        False, "--history",
        help="every record, retired ones too, also of a deleted tenant (PostgreSQL store)",
    ),
    as_json: bool = JSON,
) -> None:
    """The tenant's checkpoints (label, snapshot, app revision, metadata, time)."""
    if history:
        _run(as_json, lambda fm: {"checkpoints": [
            r.model_dump(mode="json") for r in fm.checkpoint_history(tenant)]})
        return
    _run(
        as_json,
        lambda fm: {"checkpoints": [c.model_dump(mode="json") for c in fm.checkpoints(tenant)]},
    )


@tenant_app.command("rollback")
def rollback(tenant: str, label: str, no_wait: bool = NO_WAIT, as_json: bool = JSON) -> None:
    """Restore a checkpoint's snapshot; prints the app revision and metadata to redeploy."""
    _run(as_json, lambda fm: _queued(no_wait, fm.rollback, tenant, label))


@tenant_app.command("archives")
def archives(tenant: str, as_json: bool = JSON) -> None:
    """The tenant's archive manifests, oldest first (also after it was deleted)."""
    _run(as_json, lambda fm: {"manifests": [str(p) for p in fm.archives(tenant)]})


@tenant_app.command("restore-archive")
def restore_archive(
    manifest: Path,
    tenant: str | None = typer.Option(None, "--as", help="new tenant id (default: archived)"),
    tier: str | None = typer.Option(None, "--tier", "-t", help="default: the archived tier"),
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Restore an archive (MANIFEST: its .manifest.json; checksum checked first) into a new
    project (PostgreSQL mode: a worker restores it; --no-wait returns its status)."""
    if no_wait:
        _run(as_json, lambda fm: fm.restore_archive(manifest, tenant, tier, wait=False))
    else:
        _run(as_json, lambda fm: fm.restore_archive(manifest, tenant, tier))


@tenant_app.command("show")
def show(tenant: str, as_json: bool = JSON) -> None:
    """Connection info (password masked) from the tenant's stack outputs."""
    _run(as_json, lambda fm: fm.show(tenant))


@tenant_app.command("move")
def move(
    tenants: list[str] = TENANTS,
    tier: str = TIER,
    downgrade_: bool = typer.Option(False, "--downgrade", help="to a smaller tier (checks usage)"),
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Move many tenants to a tier: <= 400 projects per transfer request, then one `up` per
    target shard. PostgreSQL mode: checked here, then queued (one operation per source
    stack); --no-wait prints the operations at once."""

    def go(fm: FleetManager) -> dict[str, Any]:
        if no_wait:
            return fm.move_many(tenants, tier, downgrade=downgrade_, wait=False).public()
        done = fm.move_many(tenants, tier, downgrade=downgrade_)
        return {"tier": done.tier, "moved": done.moved, "stacks": done.stacks,
                "transfer_requests": done.transfer_requests}

    _run(as_json, go)


@branch_app.command("create")
def branch_create(
    tenant: str,
    name: str,
    parent: str = typer.Option("production"),
    at: str | None = typer.Option(None, "--at", help="branch from the parent at this RFC 3339 "
                                  "time (inside the tier's history retention window)"),
    lsn: str | None = typer.Option(None, "--lsn", help="branch from the parent at this LSN"),
    no_wait: bool = NO_WAIT,
    as_json: bool = JSON,
) -> None:
    """Create a dev branch, from the parent's head or from a point in its past."""
    point: dict[str, Any] = {}
    if at is not None:
        point["parent_timestamp"] = at
    if lsn is not None:
        point["parent_lsn"] = lsn
    _run(as_json,
         lambda fm: _queued(no_wait, fm.create_dev_branch, tenant, name, parent, **point))


@branch_app.command("reset")
def branch_reset(tenant: str, name: str, no_wait: bool = NO_WAIT, as_json: bool = JSON) -> None:
    _run(as_json, lambda fm: _queued(no_wait, fm.reset_dev_branch, tenant, name))


@branch_app.command("delete")
def branch_delete(tenant: str, name: str, no_wait: bool = NO_WAIT, as_json: bool = JSON) -> None:
    _run(as_json, lambda fm: _queued(no_wait, fm.delete_dev_branch, tenant, name))
