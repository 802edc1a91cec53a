"""Read and check fleet files before the CLI starts an engine or calls Neon.

A fleet file edited by hand (an unknown key, `max_cu: 4` on the free tier) must come back as
one line per problem naming the file, the tenant, the field, what is allowed and the tier,
instead of a traceback from deep inside the program (issue #17). The shape comes from the
fleet model's own pydantic errors; the tier's rules from the same checks the program and
the providers run (`neon_tenants.tenant.rules`).
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from neon_tenants.cli._errors import FleetFileInvalid, Problem

__all__ = ["FleetFileInvalid", "check_fleet_files", "fleet_file_problems"]


def check_fleet_files(stacks: Path, tiers: list[str] | None = None) -> None:
    """Raise FleetFileInvalid for the first fleet file with problems (all of its problems)."""
    for path in sorted((stacks / "fleets").glob("*.yaml")):
        if tiers and path.stem not in tiers:
            continue
        problems, tier = fleet_file_problems(path, stacks)
        if problems:
            raise FleetFileInvalid(_shown(path, stacks), tier, problems)


def _shown(path: Path, stacks: Path) -> str:
    try:
        return str(path.relative_to(stacks.parent))
    except ValueError:
        return str(path)


def fleet_file_problems(
    path: Path, stacks: Path, catalog_file: str | None = None
) -> tuple[list[Problem], str | None]:
    """Every problem of one fleet file, and the tier it declares (if it got that far).
    `catalog_file`: the stack's `neon-tenants:catalogFile` (default: the stack files')."""
    from neon_tenants.fleet.spec import FleetSpec

    shown = _shown(path, stacks)
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return [Problem(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=shown)], None
    if not isinstance(raw, dict):
        return [Problem("a fleet file is a mapping with 'tier', 'shards' and 'tenants'",
                        file=shown)], None
    tier = raw.get("tier") if isinstance(raw.get("tier"), str) else None
    try:
        fleet = FleetSpec.model_validate(raw)
    except ValidationError as err:
        return [_problem(e, raw, shown, tier) for e in err.errors()], tier
    if fleet.tier != path.stem:
        return [Problem(f"declares tier {fleet.tier!r} but the file is named {path.name}: "
                        f"a fleet file is stacks/fleets/<tier>.yaml", file=shown,
                        field="tier", tier=fleet.tier)], fleet.tier
    return _rule_problems(fleet, stacks, shown, catalog_file), fleet.tier


def _problem(err: Any, raw: dict[str, Any], shown: str, tier: str | None) -> Problem:
    loc = tuple(err["loc"])
    tenant = None
    rest = loc
    if len(loc) >= 2 and loc[0] == "tenants" and isinstance(loc[1], int):
        tenants = raw.get("tenants") or []
        entry = tenants[loc[1]] if loc[1] < len(tenants) else None
        tenant = str(entry.get("id")) if isinstance(entry, dict) and entry.get("id") else (
            f"#{loc[1] + 1}")
        rest = loc[2:]
    field = ".".join(str(p) for p in rest) or None
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        msg = f"unknown key {loc[-1]!r}; allowed: {', '.join(allowed)}"
    elif err["type"] == "missing":
        msg = "required field is missing"
    else:
        msg = f"{err['msg']} (got {err.get('input')!r})"
    return Problem(msg, file=shown, tenant=tenant, field=field, tier=tier)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model at `loc` inside a FleetSpec (for unknown-key errors)."""
    from neon_tenants.fleet.spec import FleetSpec

    model: Any = FleetSpec
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            break
        model = _inner_model(fields[part].annotation)
    return sorted(getattr(model, "model_fields", {}))


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _rule_problems(
    fleet: Any, stacks: Path, shown: str, catalog_file: str | None = None
) -> list[Problem]:
    """The tier's rules for every tenant (caps, ranges), as the program will run them."""
    catalog = _catalog(stacks, catalog_file)
    if fleet.tier not in catalog.tiers:
        return [Problem(f"unknown tier {fleet.tier!r}; known: {', '.join(sorted(catalog.tiers))}",
                        file=shown, field="tier")]
    out: list[Problem] = []
    for tenant in fleet.tenants:
        for f in tenant_failures(tenant, fleet.tier, catalog):
            out.append(Problem(f.reason, file=shown, tenant=tenant.id, field=f.property,
                               tier=fleet.tier))
    return out


def _catalog(stacks: Path, catalog_file: str | None = None) -> Any:
    """The one catalog loader (stack config `catalogFile`, else stacks/tiers.yaml)."""
    from neon_tenants.catalog import stack_catalog

    return stack_catalog(stacks, catalog_file)


def tenant_failures(tenant: Any, tier_name: str, catalog: Any) -> list[Any]:
    """The tenant rules FleetManager and the program run (`neon_tenants.tenant.rules`)."""
    from neon_tenants.catalog import Limits
    from neon_tenants.tenant import rules

    tier = catalog.tier(tier_name)
    return rules.failures(tenant, tier, Limits.of(tier, catalog.org_limits(tier)))
