"""Where the catalog comes from: the ONE loader behind `pulumi up -s <tier>` and FleetManager.

The stack config names the catalog file (`neon-tenants:catalogFile`, relative to the project
root, i.e. the parent of the stacks dir; the committed stacks/Pulumi.*.yaml set it). Without
that key, `<stacks dir>/tiers.yaml` is used when it exists, else the built-in tiers. Both the
Pulumi program (`neon_tenants/__main__.py`) and `FleetManager` call `stack_catalog`, so a
custom tier (the README's "startup") works through both paths and an override of a built-in
tier gives both the same quotas (issue 10 item 3: before, `pulumi up` read only an
undocumented `tiersFile` key that no stack set).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from neon_tenants.catalog.tiers import Catalog, load_catalog

CONFIG_KEY = "neon-tenants:catalogFile"
DEFAULT_FILE = "tiers.yaml"


def catalog_file(stacks_dir: Path, configured: str | None) -> Path | None:
    """The catalog file to read, or None for the built-in tiers only.

    A configured file that does not exist is an error: silently falling back to the
    built-in tiers would make `up` apply other quotas than the ones the team wrote down.
    """
    if configured:
        path = Path(configured)
        if not path.is_absolute():
            path = stacks_dir.parent / path
        if not path.exists():
            raise FileNotFoundError(f"catalog file {path} not found (stack config {CONFIG_KEY})")
        return path
    default = stacks_dir / DEFAULT_FILE
    return default if default.exists() else None


def configured_in(stacks_dir: Path) -> str | None:
    """The `catalogFile` the stack config files of `stacks_dir` name (they must agree)."""
    found: dict[str, str] = {}
    for config in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        value = ((data.get("config") or {}) if isinstance(data, dict) else {}).get(CONFIG_KEY)
        if value:
            found[config.name] = str(value)
    values = set(found.values())
    if len(values) > 1:
        raise ValueError(
            f"stack configs name different catalogs ({CONFIG_KEY}): "
            + ", ".join(f"{k}={v}" for k, v in sorted(found.items()))
        )
    return values.pop() if values else None


def stack_catalog(stacks_dir: Path, configured: str | None = None) -> Catalog:
    """The catalog for the stacks in `stacks_dir` (`configured`: the stack's config value,
    which the program reads from Pulumi; FleetManager reads the config files)."""
    stacks_dir = Path(stacks_dir)
    if configured is None:
        configured = configured_in(stacks_dir)
    return load_catalog(catalog_file(stacks_dir, configured))
