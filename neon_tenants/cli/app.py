"""The `neon-tenants` command line (typer). Sub-commands import their modules lazily so
that `neon-tenants doctor` works even when optional parts fail to import."""

from __future__ import annotations

import sys

import typer

from neon_tenants.cli import emulator_cmds
from neon_tenants.cli.stacks_cmds import stacks_app

# Errors are one line each (cli/_errors.py), never a rich traceback: a person reads them in
# a terminal or in a pull-request comment (issue #17). NEON_TENANTS_DEBUG=1 shows tracebacks.
app = typer.Typer(no_args_is_help=True, help="One Neon project per tenant, as code.",
                  pretty_exceptions_enable=False)
emulator_app = typer.Typer(no_args_is_help=True, help="The local Neon emulator.")
app.add_typer(emulator_app, name="emulator")
app.add_typer(stacks_app, name="stacks")
emulator_app.command("start")(emulator_cmds.start)
emulator_app.command("stop")(emulator_cmds.stop)
emulator_app.command("env")(emulator_cmds.env)
emulator_app.command("status")(emulator_cmds.status)


@app.command()
def doctor() -> None:
    """Check the toolchain (pulumi, language host, plugins, PostgreSQL, Python) and credentials."""
    from neon_tenants.doctor import run_doctor

    raise typer.Exit(run_doctor())


@emulator_app.command("serve")
def emulator_serve(
    port: int = typer.Option(4444, help="TCP port on 127.0.0.1"),
    data_dir: str = typer.Option(".emulator", help="state, credentials.json and clusters"),
    config: str | None = typer.Option(None, help="emulator config file (YAML/JSON)"),
) -> None:
    """Run the emulator in the foreground; Ctrl-C stops it and everything it started."""
    from neon_emulator.server import serve

    serve(port=port, data_dir=data_dir, config_path=config)


@app.command()
def demo(
    data_dir: str = typer.Option(".emulator", help="emulator data dir (state is kept)"),
) -> None:
    """`make run`: emulator + free/pro demo fleets, connect, upgrade, undo."""
    from neon_tenants.cli.demo import run_demo

    raise typer.Exit(run_demo(data_dir))


def _register_fleet_commands() -> None:
    """Fleet commands need the automation layer; if it cannot import, doctor still works."""
    try:
        from neon_tenants.cli import fleet_cmds
    except ImportError:  # pragma: no cover - a broken checkout; `doctor` explains
        return
    app.command("up")(fleet_cmds.up)
    app.command("preview")(fleet_cmds.preview)
    app.command("destroy")(fleet_cmds.destroy)
    from neon_tenants.cli.audit_cmds import audit

    app.command("audit")(audit)
    app.command("rollout")(fleet_cmds.rollout)
    app.add_typer(fleet_cmds.tenant_app, name="tenant")


def _register_usage_commands() -> None:
    """`neon-tenants usage ...` (monitoring, cli/monitor_cmds.py), if it imports."""
    try:
        from neon_tenants.cli.monitor_cmds import monitor_app
    except ImportError:  # pragma: no cover - monitoring not installed / broken
        return
    app.add_typer(monitor_app, name="usage")


def _register_db_commands() -> None:
    """`neon-tenants db ...`, `fleet import|export` (PostgreSQL mode, cli/db_cmds.py)."""
    try:
        from neon_tenants.cli import db_cmds
    except ImportError:  # pragma: no cover - psycopg/procrastinate missing; doctor explains
        return
    app.add_typer(db_cmds.db_app, name="db")
    from neon_tenants.cli import fleet_cmds

    db_cmds.fleet_app.command("set")(fleet_cmds.fleet_set)
    app.add_typer(db_cmds.fleet_app, name="fleet")
    app.command("worker")(db_cmds.worker)
    app.command("reshard")(db_cmds.reshard)


_register_fleet_commands()
_register_usage_commands()
_register_db_commands()


def main() -> None:
    """Anything a command did not turn into a one-line error becomes one here (exit 1)."""
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        import os
        import traceback

        from neon_tenants.cli._errors import DEBUG_ENV, describe, emit

        if os.environ.get(DEBUG_ENV):
            traceback.print_exception(exc, file=sys.stderr)
        argv = sys.argv[1:]
        emit(describe(exc), "markdown" if "--markdown" in argv else
             "json" if "--json" in argv else "text")
        sys.exit(1)
