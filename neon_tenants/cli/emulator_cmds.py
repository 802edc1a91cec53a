"""`neon-tenants emulator start|stop|env|status`: the embedded default for plain `pulumi`.

    neon-tenants emulator start               # background emulator on .emulator/
    eval "$(neon-tenants emulator env)"       # this shell's pulumi now talks to it
    pulumi up --stack free
    neon-tenants emulator stop

`env` prints shell `export` lines only (nothing when no emulator runs: it exits 1 with the
reason on stderr, so `eval` changes nothing). See cli/_background.py.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from neon_tenants.cli import _background as bg
from neon_tenants.cli._output import Output

DATA_DIR = typer.Option(None, "--data-dir", help="emulator data dir (default: <repo>/.emulator)")
JSON = typer.Option(False, "--json", help="machine-readable output on stdout")


def _dir(data_dir: str | None) -> Path:
    return Path(data_dir).resolve() if data_dir else bg.default_data_dir()


def start(
    data_dir: str | None = DATA_DIR,
    port: int = typer.Option(0, help="TCP port on 127.0.0.1 (0: a free one)"),
    config: str | None = typer.Option(None, envvar="NEON_EMULATOR_CONFIG",
                                      help="emulator config file (YAML/JSON)"),
    as_json: bool = JSON,
) -> None:
    """Start the emulator in the background (idempotent); state is kept in the data dir."""
    from neon_tenants.cli._errors import fail

    out = Output(as_json)
    try:
        emu, started = bg.start(_dir(data_dir), port, Path(config) if config else None)
    except Exception as exc:  # noqa: BLE001 - one line, exit 1
        fail(out, exc)
    if as_json:
        out.data({"started": started, "pid": emu.pid, **emu.client_env})
        return
    verb = "started" if started else "already running"
    typer.echo(f"emulator {verb}: {emu.base_url} (pid {emu.pid}, data {emu.data_dir})")
    typer.echo('point this shell at it: eval "$(neon-tenants emulator env)"')


def stop(data_dir: str | None = DATA_DIR, as_json: bool = JSON) -> None:
    """Stop the background emulator (its clusters stop too; its state is kept)."""
    out = Output(as_json)
    emu = bg.stop(_dir(data_dir))
    if as_json:
        out.data({"stopped": emu is not None})
    elif emu is None:
        typer.echo("no background emulator was running")
    else:
        typer.echo(f"emulator stopped (pid {emu.pid}); state kept in {emu.data_dir}")
        typer.echo('clear the shell: eval "$(neon-tenants emulator env --unset)"')


def env(
    data_dir: str | None = DATA_DIR,
    unset: bool = typer.Option(False, "--unset", help="print `unset` lines instead"),
) -> None:
    """Shell lines pointing Neon clients (and pulumi's providers) at the background emulator."""
    names = ("NEON_API_BASE_URL", "NEON_CREDENTIALS_FILE")
    if unset:
        typer.echo(f"unset {' '.join(names)}")
        return
    emu = bg.running(_dir(data_dir))
    if emu is None:
        typer.echo("error: no background emulator is running: run `neon-tenants emulator start`",
                   err=True)
        raise typer.Exit(1)
    for name, value in emu.client_env.items():
        typer.echo(f"export {name}={shlex.quote(value)}")


def status(data_dir: str | None = DATA_DIR, as_json: bool = JSON) -> None:
    """Whether the background emulator runs (exit 0) or not (exit 1)."""
    out = Output(as_json)
    emu = bg.running(_dir(data_dir))
    if as_json:
        out.data({"running": emu is not None, **(emu.client_env if emu else {})})
    else:
        typer.echo(f"running: {emu.base_url} (pid {emu.pid})" if emu else "not running")
    raise typer.Exit(0 if emu else 1)
