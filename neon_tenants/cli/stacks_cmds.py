"""`neon-tenants stacks init`: the fleet stacks exist before anyone runs plain `pulumi`.

Issue #17: `pulumi preview --stack free` on a fresh clone answered "no stack named 'free'",
because only `neon-tenants` commands created stacks. This creates, in the configured backend,
every stack the fleet files on disk call for (`<tier>`, or `<tier>-00` .. `<tier>-NN` when a
fleet is sharded) and the stack config file of each shard stack (the tier's own file's
settings, with the shard from the stack name). Idempotent: existing stacks are left alone.
`scripts/bootstrap.sh` runs it for the committed stacks.

The committed `stacks/Pulumi.<tier>.yaml` carry the `encryptionsalt` of the local default
passphrase, so `pulumi stack init` and every later command leave them byte-for-byte
unchanged; with your own passphrase, delete that line once (`pulumi` writes a new one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import yaml

from neon_tenants.cli._output import Output

JSON = typer.Option(False, "--json", help="machine-readable output on stdout")
TIERS = typer.Option(None, "--tier", "-t", help="default: every fleet file")
stacks_app = typer.Typer(no_args_is_help=True, help="The fleet stacks (one per tier or shard).")


@dataclass(frozen=True)
class StackInit:
    stack: str
    tier: str
    created: bool
    config_file: str


def project_root(start: Path | None = None) -> Path:
    """The checkout the command runs in: the nearest directory up from the current one with
    this project's Pulumi.yaml (as `pulumi` itself finds it), else the installed package's."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        pulumi_yaml = d / "Pulumi.yaml"
        if pulumi_yaml.is_file() and "name: neon-tenants" in pulumi_yaml.read_text("utf-8"):
            return d
    from neon_tenants._settings import paths

    return paths().repo_root


def stacks_dir() -> Path:
    """`NEON_TENANTS_STACKS_DIR`, else `<project root>/stacks`."""
    return Path(os.environ.get("NEON_TENANTS_STACKS_DIR") or project_root() / "stacks")


def wanted_stacks(stacks: Path, tiers: list[str] | None = None) -> list[tuple[str, str]]:
    """(stack, tier) for every tier of the stacks dir (or only the given tiers): a files
    tier's from its fleet file, a postgres tier's from its row in the database (the tier's
    stack config chooses: fleet/store_choice.py)."""
    from neon_tenants.fleet import all_stacks, load_fleet
    from neon_tenants.fleet.store_choice import known_tiers, tier_store

    out: list[tuple[str, str]] = []
    for tier in known_tiers(stacks):
        if tiers and tier not in tiers:
            continue
        choice = tier_store(stacks, tier)
        if choice.url is not None:
            shards = _database_shards(choice.url.conninfo(), tier)
            if shards is not None:
                out += [(ref.name(shards), tier) for ref in _refs(tier, shards)]
            continue
        path = stacks / "fleets" / f"{tier}.yaml"
        if path.is_file():
            fleet = load_fleet(path)
            out += [(ref.name(fleet.shards), fleet.tier) for ref in all_stacks(fleet)]
    missing = sorted(set(tiers or ()) - {tier for _, tier in out})
    in_database = [t for t in missing if tier_store(stacks, t).kind == "postgres"]
    if in_database:
        raise ValueError(f"tier(s) {', '.join(in_database)} have no rows in the database "
                         "(postgres store): `neon-tenants fleet import --tier T` first")
    if missing:
        raise ValueError(
            f"no fleet file for tier(s) {', '.join(missing)} in {stacks / 'fleets'} "
            "(a fleet is stacks/fleets/<tier>.yaml)"
        )
    return out


def _refs(tier: str, shards: int) -> list[Any]:
    from neon_tenants.fleet.sharding import StackRef

    return [StackRef(tier, None)] if shards <= 1 else [StackRef(tier, i) for i in range(shards)]


def _database_shards(conninfo: str, tier: str) -> int | None:
    from neon_tenants.db.store import PostgresFleetStore

    rows = PostgresFleetStore(conninfo, max_size=1)
    try:
        shape = rows.fleet_shape(tier)
    finally:
        rows.close()
    return None if shape is None else int(shape[0])


def _write_shard_config(stacks: Path, stack: str, tier: str) -> Path:
    """A shard stack's config: the tier file's settings (and salt) when there is one."""
    target = stacks / f"Pulumi.{stack}.yaml"
    if target.exists():
        return target
    base = stacks / f"Pulumi.{tier}.yaml"
    data: dict[str, Any] = {}
    if base.exists():
        data = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    config = dict(data.get("config") or {})
    config.setdefault("neon-tenants:tier", tier)
    config.setdefault("neon-tenants:fleetFile", f"stacks/fleets/{tier}.yaml")
    if "neon-tenants:catalogFile" not in config:  # the catalog the other stacks name
        from neon_tenants.catalog.source import configured_in

        catalog = configured_in(stacks)
        if catalog:
            config["neon-tenants:catalogFile"] = catalog
    out: dict[str, Any] = {"config": config}
    if data.get("encryptionsalt"):
        out["encryptionsalt"] = data["encryptionsalt"]
    header = f"# Shard stack of tier {tier} (written by `neon-tenants stacks init`).\n"
    target.write_text(header + yaml.safe_dump(out, sort_keys=False), encoding="utf-8")
    return target


def init_stacks(stacks: Path, tiers: list[str] | None = None) -> list[StackInit]:
    """Create every missing fleet stack in the backend `scripts/env.sh` configures."""
    from pulumi import automation as auto

    from neon_tenants._env import pulumi_command, pulumi_env

    work_dir = stacks.parent
    wanted = wanted_stacks(stacks, tiers)
    env = {**os.environ, **pulumi_env(work_dir if (work_dir / "Pulumi.yaml").exists() else None)}
    workspace = auto.LocalWorkspace(
        work_dir=str(work_dir), env_vars=env, pulumi_command=pulumi_command()
    )
    existing = {s.name for s in workspace.list_stacks()}
    done: list[StackInit] = []
    for stack, tier in wanted:
        config = stacks / f"Pulumi.{stack}.yaml"
        if stack != tier:
            config = _write_shard_config(stacks, stack, tier)
        created = stack not in existing
        if created:
            workspace.create_stack(stack)
        done.append(StackInit(stack, tier, created, str(config.relative_to(work_dir))))
    return done


@stacks_app.command("init")
def init(
    tier: list[str] | None = TIERS,
    as_json: bool = JSON,
) -> None:
    """Create the stacks the fleet files call for (idempotent), so plain `pulumi` finds them."""
    from neon_tenants.cli._errors import fail

    out = Output(as_json)
    try:
        done = init_stacks(stacks_dir(), tier or None)
    except Exception as exc:  # noqa: BLE001 - one line, exit 1 (cli/_errors.py)
        fail(out, exc)
    if as_json:
        out.data({"stacks": [s.__dict__ for s in done]})
        return
    for s in done:
        state = "created" if s.created else "exists"
        typer.echo(f"{s.stack}: {state} (tier {s.tier}, config {s.config_file})")
