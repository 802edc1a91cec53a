"""Which fleet store a tier uses: one rule for FleetManager, the CLI, workers and the Pulumi
program (issue 11).

The tier's stack config chooses: `neon-tenants:fleetStore: files | postgres` in
`stacks/Pulumi.<tier>.yaml` (a shard stack's `Pulumi.<tier>-NN.yaml` carries the same value;
`neon-tenants stacks init` copies it, `fleet import|export` writes it). The database URL
never comes from a file: only from `NEON_TENANTS_DATABASE_URL`.

- `postgres` with the variable unset is an error that names it;
- `files` with the variable set stays `files`: a URL in the environment never switches a
  tier's fleet (Pulumi state is another matter: `PULUMI_BACKEND_URL`, else that database,
  else the file backend, whatever the store, so moving a tier between stores never moves
  its stacks);
- not set: `files` when the tier has a fleet file (`stacks/fleets/<tier>.yaml`: a fleet kept
  in git is never swapped for rows), else `postgres` when the variable is set (a tier that
  only ever lived in the database), else `files` (the embedded default).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

from neon_tenants.fleet.sharding import parse_stack_name

if TYPE_CHECKING:
    from neon_tenants.db import DatabaseUrl

StoreKind = Literal["files", "postgres"]
KINDS: tuple[StoreKind, ...] = ("files", "postgres")
KEY = "neon-tenants:fleetStore"
_LINE = re.compile(r"^(?P<indent>[ \t]*)neon-tenants:fleetStore:.*$", re.M)


class StoreConfigError(ValueError):
    """A tier's fleet store is misconfigured (names the file, key, allowed values, tier)."""


@dataclass(frozen=True)
class StoreChoice:
    kind: StoreKind
    why: str  # "stacks/Pulumi.free.yaml" or "default: ..." (for messages and doctor)
    url: DatabaseUrl | None = None  # set iff kind == "postgres"


def choose(
    tier: str,
    configured: str | None,
    source: str,
    has_fleet_file: bool,
    environ: Mapping[str, str],
) -> StoreChoice:
    """The rule, given what the tier's stack config says (`configured`, from `source`)."""
    from neon_tenants.db import DATABASE_URL_ENV, database_url

    url = database_url(environ)
    if configured is not None and configured not in KINDS:
        raise StoreConfigError(
            f"{source}: {KEY} must be one of {', '.join(KINDS)} (tier {tier}), "
            f"not {configured!r}"
        )
    if configured == "postgres":
        if url is None:
            raise StoreConfigError(
                f"{source} sets {KEY}: postgres for tier {tier}: set {DATABASE_URL_ENV} "
                "(postgresql://user@host:port/db) in the environment"
            )
        return StoreChoice("postgres", source, url)
    if configured == "files":
        return StoreChoice("files", source)
    if has_fleet_file:
        return StoreChoice("files", f"default: tier {tier} has a fleet file")
    if url is not None:
        return StoreChoice("postgres", f"default: {DATABASE_URL_ENV} set, no fleet file", url)
    return StoreChoice("files", f"default: {DATABASE_URL_ENV} not set")


def _config_files(stacks_dir: Path, tier: str) -> list[Path]:
    """The tier's own stack config first, then its shard stacks' (sorted)."""
    own = stacks_dir / f"Pulumi.{tier}.yaml"
    out = [own] if own.is_file() else []
    for path in sorted(stacks_dir.glob(f"Pulumi.{tier}-*.yaml")):
        try:
            ref = parse_stack_name(path.name[len("Pulumi.") : -len(".yaml")])
        except ValueError:
            continue
        if ref.tier == tier and ref.shard is not None:
            out.append(path)
    return out


def _value(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StoreConfigError(f"{path}: not readable stack config ({exc})") from None
    config = data.get("config") if isinstance(data, dict) else None
    value = config.get(KEY) if isinstance(config, dict) else None
    return None if value is None else str(value)


def configured(stacks_dir: Path, tier: str) -> tuple[str | None, str]:
    """(value, the file that says it) from the tier's stack configs; (None, "") if none.
    Shard stacks that disagree with each other or with the tier's file are an error."""
    said: dict[str, str] = {}
    for path in _config_files(Path(stacks_dir), tier):
        value = _value(path)
        if value is not None:
            said.setdefault(value, path.name)
    if len(said) > 1:
        which = ", ".join(f"{name} says {value}" for value, name in said.items())
        raise StoreConfigError(
            f"the stack configs of tier {tier} disagree on {KEY}: {which} "
            f"(allowed: {', '.join(KINDS)}; one value for every stack of a tier)"
        )
    if not said:
        return None, ""
    value, name = next(iter(said.items()))
    return value, f"{Path(stacks_dir).name}/{name}"


def fleet_file(stacks_dir: Path, tier: str) -> Path:
    return Path(stacks_dir) / "fleets" / f"{tier}.yaml"


def tier_store(
    stacks_dir: Path, tier: str, environ: Mapping[str, str] | None = None
) -> StoreChoice:
    """The store of one tier, from the stacks dir's config files and the environment."""
    import os

    value, source = configured(stacks_dir, tier)
    env = os.environ if environ is None else environ
    return choose(tier, value, source, fleet_file(stacks_dir, tier).is_file(), env)


def known_tiers(stacks_dir: Path) -> list[str]:
    """Tiers with a stack config or a fleet file in the stacks dir."""
    stacks_dir = Path(stacks_dir)
    tiers = {p.stem for p in (stacks_dir / "fleets").glob("*.yaml")}
    for path in stacks_dir.glob("Pulumi.*.yaml"):
        try:
            tiers.add(parse_stack_name(path.name[len("Pulumi.") : -len(".yaml")]).tier)
        except ValueError:
            continue
    return sorted(tiers)


def fleet_store(stacks_dir: Path, environ: Mapping[str, str] | None = None) -> StoreChoice:
    """The one store a FleetManager (or CLI command) on this stacks dir uses: every tier
    that says (a `fleetStore` value) or has a fleet file must agree; tiers with neither
    follow them (with none, the default for a tier with no file)."""
    import os

    env = os.environ if environ is None else environ
    choices = {
        tier: tier_store(stacks_dir, tier, env)
        for tier in known_tiers(stacks_dir)
        if configured(stacks_dir, tier)[0] is not None or fleet_file(stacks_dir, tier).is_file()
    }
    kinds = {c.kind for c in choices.values()}
    if len(kinds) > 1:
        listed = "; ".join(f"{t}: {c.kind} ({c.why})" for t, c in choices.items())
        raise StoreConfigError(
            f"one FleetManager serves one fleet store, but the tiers in {stacks_dir} differ "
            f"({listed}): set {KEY} to the same value ({' or '.join(KINDS)}) in every tier's "
            "stack config (`neon-tenants fleet import --tier T` moves a tier to postgres)"
        )
    if choices:
        return next(iter(choices.values()))
    return choose("(any)", None, "", False, env)


def set_fleet_store(stacks_dir: Path, tier: str, kind: StoreKind) -> list[Path]:
    """Write `neon-tenants:fleetStore: kind` into every stack config of the tier (creating
    the tier's own file when there is none); comments and other keys are kept."""
    stacks_dir = Path(stacks_dir)
    files = _config_files(stacks_dir, tier)
    if not files:
        path = stacks_dir / f"Pulumi.{tier}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# Stack `{tier}` (written by `neon-tenants fleet import|export`).\n"
            f"config:\n  neon-tenants:tier: {tier}\n  {KEY}: {kind}\n",
            encoding="utf-8",
        )
        return [path]
    for path in files:
        text = path.read_text(encoding="utf-8")
        if _LINE.search(text):
            text = _LINE.sub(lambda m: f"{m.group('indent')}{KEY}: {kind}", text, count=1)
        elif re.search(r"^config:[ \t]*$", text, re.M):
            indent = re.search(r"^config:[ \t]*\n([ \t]+)\S", text, re.M)
            pad = indent.group(1) if indent else "  "
            text = re.sub(r"^config:[ \t]*$", f"config:\n{pad}{KEY}: {kind}", text, count=1,
                          flags=re.M)
        else:
            text = text.rstrip("\n") + ("\n" if text.strip() else "") + (
                f"config:\n  {KEY}: {kind}\n"
            )
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        if _value(tmp) != kind:  # pragma: no cover - a layout the line edit cannot handle
            tmp.unlink()
            raise StoreConfigError(f"{path}: could not set {KEY} (edit it by hand: {kind})")
        tmp.replace(path)
    return files

