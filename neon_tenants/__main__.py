"""The Pulumi program entry for infra teams' `pulumi up -s <tier>[-NN]`.

Run by the language host's exec shim with runpy as a script, hence absolute imports.
Stack config (`stacks/Pulumi.<stack>.yaml`): `neon-tenants:tier`, `neon-tenants:fleetFile`,
optional `neon-tenants:shards` (must agree with the fleet file, else tenants of other shards
would be deleted) and `neon-tenants:shard` (default: parsed from the stack name).
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from neon_tenants.catalog import load_catalog
from neon_tenants.fleet.program import build_program
from neon_tenants.fleet.sharding import parse_stack_name
from neon_tenants.fleet.spec import load_fleet


def _resolve(path_text: str) -> Path:
    """Relative fleet paths are taken from the project root (where Pulumi.yaml is; the
    program's cwd is its own directory), then from `stacks/`. A missing fleet file is an
    error here: read as an empty fleet it would delete every tenant of the stack."""
    path = Path(path_text)
    if not path.is_absolute():
        root = Path(pulumi.get_root_directory())
        candidates = [root / path, root / "stacks" / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not path.exists():
        raise FileNotFoundError(
            f"fleet file {path} not found (stack config neon-tenants:fleetFile)"
        )
    return path


def main() -> None:
    config = pulumi.Config("neon-tenants")
    ref = parse_stack_name(pulumi.get_stack())
    tier = config.get("tier") or ref.tier
    fleet_file = _resolve(config.get("fleetFile") or f"fleets/{tier}.yaml")
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
    tiers_file = config.get("tiersFile")
    catalog = load_catalog(Path(tiers_file) if tiers_file else None)
    build_program(tier, shard if fleet.shards > 1 else None, fleet, catalog)()


if __name__ == "__main__":  # the exec shim runs this file with runpy as __main__
    main()
