"""The Pulumi program entry for infra teams' `pulumi up -s <tier>[-NN]`.

Run by the language host's exec shim with runpy as a script, hence absolute imports.
Stack config (`stacks/Pulumi.<stack>.yaml`): `neon-tenants:fleetStore` (`files` or
`postgres`: the shard's rows in NEON_TENANTS_DATABASE_URL; unset: the rule of
fleet/store_choice.py, the same FleetManager, the CLI and workers use), `neon-tenants:tier`,
`neon-tenants:fleetFile`,
`neon-tenants:catalogFile` (the tiers, see catalog/source.py), optional `neon-tenants:shards`
(must agree with the fleet file, else tenants of other shards would be deleted) and
`neon-tenants:shard` (default: parsed from the stack name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi

from neon_tenants.archive.resource import settings_from_env
from neon_tenants.catalog import stack_catalog
from neon_tenants.fleet.program import build_program
from neon_tenants.fleet.sharding import parse_stack_name
from neon_tenants.fleet.spec import FleetSpec, load_fleet
from neon_tenants.fleet.store_choice import choose

if TYPE_CHECKING:
    from neon_tenants.db import DatabaseUrl


def _fleet_path(path_text: str) -> Path:
    """Relative fleet paths are taken from the project root (where Pulumi.yaml is; the
    program's cwd is its own directory), then from `stacks/`."""
    path = Path(path_text)
    if not path.is_absolute():
        root = Path(pulumi.get_root_directory())
        candidates = [root / path, root / "stacks" / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    return path


def _resolve(path_text: str) -> Path:
    """The fleet file; a missing one is an error here: read as an empty fleet it would
    delete every tenant of the stack."""
    path = _fleet_path(path_text)
    if not path.exists():
        raise FileNotFoundError(
            f"fleet file {path} not found (stack config neon-tenants:fleetFile)"
        )
    return path


def _fleet_from_database(tier: str, shard: int | None, url: DatabaseUrl) -> FleetSpec:
    """The postgres store: this shard's rows (URL from the environment only,
    NEON_TENANTS_DATABASE_URL; issue 11), the same rows the workers' runs read."""
    from neon_tenants.db.store import PostgresFleetStore

    rows = PostgresFleetStore(url.conninfo(), max_size=1)
    try:
        shape = rows.fleet_shape(tier)
        if shape is None:
            raise ValueError(f"tier {tier!r} has no fleet in {url.redacted}")
        if shard is None:
            whole = rows.load_fleet(tier)
            assert whole is not None
            return whole
        return rows.shard_snapshot(tier, shard, mark_applying=False).fleet()
    finally:
        rows.close()


def main() -> None:
    config = pulumi.Config("neon-tenants")
    ref = parse_stack_name(pulumi.get_stack())
    tier = config.get("tier") or ref.tier
    fleet_text = config.get("fleetFile") or f"fleets/{tier}.yaml"
    # the one rule (fleet/store_choice.py): the stack config, else where the fleet is
    choice = choose(
        tier, config.get("fleetStore"), f"stack config of {pulumi.get_stack()}",
        _fleet_path(fleet_text).exists(), os.environ,
    )
    if choice.url is not None:
        shard = ref.shard if config.get_int("shard") is None else config.get_int("shard")
        fleet = _fleet_from_database(tier, shard, choice.url)
        catalog = stack_catalog(
            Path(pulumi.get_root_directory()) / "stacks", config.get("catalogFile") or ""
        )
        archive = settings_from_env(Path(pulumi.get_root_directory()), os.environ)
        build_program(tier, shard if fleet.shards > 1 else None, fleet, catalog, archive)()
        return
    fleet_file = _resolve(fleet_text)
    _check_fleet_file(fleet_file, config.get("catalogFile"))
    fleet = load_fleet(fleet_file, tier=tier)
    shards = config.get_int("shards")
    if shards is not None and shards != fleet.shards:
        raise ValueError(
            f"stack config says {shards} shards but {fleet_file} says {fleet.shards}: "
            "make them agree (changing it moves tenants between stacks)"
        )
    shard = config.get_int("shard")
    if shard is None:
        shard = ref.shard
    # the one catalog loader FleetManager uses too; relative paths from the project root
    stacks_dir = Path(pulumi.get_root_directory()) / "stacks"
    catalog = stack_catalog(stacks_dir, config.get("catalogFile") or "")
    # the same archive step FleetManager declares (same env, same default dir), so infra
    # teams' `pulumi up` and the backend see no drift in each other's stacks
    archive = settings_from_env(Path(pulumi.get_root_directory()), os.environ)
    build_program(tier, shard if fleet.shards > 1 else None, fleet, catalog, archive)()


def _check_fleet_file(path: Path, catalog_file: str | None = None) -> None:
    """The CLI's fleet-file check (file, tenant, field, allowed values, tier) before any
    resource is declared, so a hand-edited mistake never reaches a provider."""
    from neon_tenants.cli._fleet_check import FleetFileInvalid, fleet_file_problems

    stacks = Path(pulumi.get_root_directory()) / "stacks"
    problems, tier = fleet_file_problems(path, stacks, catalog_file)
    if problems:
        shown = problems[0].file or str(path)
        raise FleetFileInvalid(shown, tier, problems)


def run() -> None:
    """`main()` with one line per problem in Pulumi's diagnostics instead of a traceback
    (issue #17): a RunError is printed by the exec shim as its message alone.
    NEON_TENANTS_DEBUG=1 keeps the traceback."""
    import os

    try:
        main()
    except pulumi.RunError:
        raise
    except Exception as exc:
        if os.environ.get("NEON_TENANTS_DEBUG"):
            raise
        from neon_tenants.cli._errors import describe

        report = describe(exc)
        for line in report.lines():
            pulumi.log.error(line)
        raise pulumi.RunError(report.summary) from None


if __name__ == "__main__":  # the exec shim runs this file with runpy as __main__
    run()
