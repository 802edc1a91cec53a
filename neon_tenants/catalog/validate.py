"""Pure checks behind every provider `check` and `TenantDatabaseArgs` validation.

Neon reports plan limits only at apply time, as a bare 4xx (the Terraform provider's issues
#104, #140, #176); checking here makes a bad input fail at preview, before any API call, with
a message that names the property, the allowed range and the tier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from neon_tenants.catalog.limits import Limits
from neon_tenants.catalog.tiers import QUOTA_KEYS, OrgLimits, Tier

MAX_SUSPEND_TIMEOUT_SECONDS = 604800
TENANT_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$")
BRANCH_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PG_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")
RESERVED_ROLES = frozenset(
    {"postgres", "neon_superuser", "cloud_admin", "zenith_admin", "neon_service", "public"}
)
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})
RESERVED_TENANT_IDS = frozenset({"admin", "neon", "postgres", "production", "main"})
RESERVED_BRANCH_NAMES = frozenset({"production", "main"})


@dataclass(frozen=True)
class Failure:
    """One invalid property and what to change (maps 1:1 onto pulumi's CheckFailure)."""

    property: str
    reason: str


def tenant_id(value: str, prop: str = "tenant_id") -> list[Failure]:
    if not TENANT_ID_RE.match(value):
        return [Failure(prop, f"tenant id {value!r} must be 2-48 chars of a-z, 0-9 and '-', "
                              "starting and ending with a letter or digit")]
    if value in RESERVED_TENANT_IDS:
        return [Failure(prop, f"{value!r} is reserved (reserved: "
                              f"{', '.join(sorted(RESERVED_TENANT_IDS))}); choose another "
                              "tenant id")]
    return []


def branch_name(value: str, prop: str = "name") -> list[Failure]:
    if not BRANCH_NAME_RE.match(value):
        return [Failure(prop, f"branch name {value!r} must match {BRANCH_NAME_RE.pattern}")]
    if value in RESERVED_BRANCH_NAMES:
        return [Failure(prop, f"branch name {value!r} is reserved for the default branch "
                              f"(reserved: {', '.join(sorted(RESERVED_BRANCH_NAMES))})")]
    return []


def role_name(value: str, prop: str = "role_name") -> list[Failure]:
    if not PG_NAME_RE.match(value):
        return [Failure(prop, f"role name {value!r} must match {PG_NAME_RE.pattern}")]
    if value.lower() in RESERVED_ROLES or value.lower().startswith("pg_"):
        return [Failure(prop, f"role name {value!r} is reserved by Neon (reserved: "
                              f"{', '.join(sorted(RESERVED_ROLES))} and names starting "
                              "with 'pg_'); choose another role name")]
    return []


def database_name(value: str, prop: str = "database_name") -> list[Failure]:
    if not PG_NAME_RE.match(value):
        return [Failure(prop, f"database name {value!r} must match {PG_NAME_RE.pattern}")]
    if value.lower() in RESERVED_DATABASES:
        return [Failure(prop, f"database name {value!r} is reserved by Neon (reserved: "
                              f"{', '.join(sorted(RESERVED_DATABASES))}); choose another")]
    return []


def _cu_step(value: float) -> bool:
    return abs(value * 4 - round(value * 4)) < 1e-9


def compute_range(
    min_cu: float, max_cu: float, limits: Limits, prefix: str = ""
) -> list[Failure]:
    """Autoscaling limits inside the tier's range, in steps of 0.25 CU, min <= max."""
    out: list[Failure] = []
    allowed = f"allowed {limits.min_cu}-{limits.max_cu} CU on tier {limits.tier}"
    for prop, value in ((f"{prefix}min_cu", min_cu), (f"{prefix}max_cu", max_cu)):
        if not limits.min_cu <= value <= limits.max_cu:
            out.append(Failure(prop, f"{value} CU is outside the tier's range: {allowed}"))
        elif not _cu_step(value):
            out.append(Failure(prop, f"{value} CU is not a multiple of 0.25 CU"))
    if min_cu > max_cu:
        out.append(Failure(f"{prefix}min_cu", f"min_cu {min_cu} must be <= max_cu {max_cu}"))
    return out


def suspend_timeout(value: int, limits: Limits, prop: str = "suspend_timeout_seconds") -> list[
    Failure
]:
    """0 = Neon's default (300 s); -1 = never suspend, which a free org refuses (CONTRACT 0)."""
    if value == -1 and not limits.allow_never_suspend:
        return [Failure(prop, f"-1 (never suspend) is not allowed on tier {limits.tier} "
                              f"(org {limits.org} must scale to zero); use 0 or "
                              f"{limits.min_suspend_timeout_seconds}..{MAX_SUSPEND_TIMEOUT_SECONDS}")]
    if value in (0, -1):
        return []
    lo = limits.min_suspend_timeout_seconds
    if value < lo or value > MAX_SUSPEND_TIMEOUT_SECONDS:
        return [Failure(prop, f"{value} s is outside {lo}..{MAX_SUSPEND_TIMEOUT_SECONDS} s "
                              f"(minimum autosuspend of tier {limits.tier}, org {limits.org}); "
                              "0 = Neon default, -1 = never suspend")]
    return []


def history_retention(
    value: int, limits: Limits, prop: str = "history_retention_seconds"
) -> list[Failure]:
    hi = limits.max_history_retention_seconds
    if not 0 <= value <= hi:
        return [Failure(prop, f"{value} s is outside 0..{hi} s allowed on tier {limits.tier} "
                              f"(org {limits.org})")]
    return []


def branch_count(count: int, limits: Limits, prop: str = "dev_branches") -> list[Failure]:
    """`count` includes the default branch: the org limit counts every branch."""
    if count > limits.branch_cap:
        return [Failure(prop, f"{count} branches (incl. the default branch) exceed the cap of "
                              f"{limits.branch_cap} on tier {limits.tier}; remove "
                              f"{count - limits.branch_cap} or move the tenant to a bigger tier")]
    return []


def snapshot_count(count: int, limits: Limits, prop: str = "snapshots") -> list[Failure]:
    if count > limits.snapshot_cap:
        return [Failure(prop, f"{count} snapshots exceed the cap of {limits.snapshot_cap} on "
                              f"tier {limits.tier}; declare at most {limits.snapshot_cap}")]
    return []


def quota_values(quota: Mapping[str, int], tier: Tier, prop: str = "quota") -> list[Failure]:
    """Overrides may lower a tier quota but not lift it (0 = unlimited only if the tier is)."""
    out: list[Failure] = []
    for key, value in quota.items():
        p = f"{prop}.{key}"
        if key not in QUOTA_KEYS:
            out.append(Failure(p, f"unknown quota {key!r}; known: {', '.join(QUOTA_KEYS)}"))
            continue
        cap = getattr(tier.quota, key)
        if value < 0:
            out.append(Failure(p, f"{value} must be >= 0"))
        elif cap and (value == 0 or value > cap):
            out.append(Failure(p, f"{value} is outside 1..{cap} allowed on tier {tier.name} "
                                  "(0 = unlimited is not allowed there)"))
    return out


def validate_tier(tier: Tier, org: OrgLimits) -> list[Failure]:
    """A catalog tier must itself fit its org (guide: organization limits)."""
    t = f"tiers.{tier.name}"
    org_lim = Limits(tier=tier.name, org=tier.org, min_cu=org.min_cu, max_cu=org.max_cu,
                     min_suspend_timeout_seconds=org.min_suspend_timeout_seconds,
                     max_history_retention_seconds=org.max_history_retention_seconds,
                     branch_cap=org.max_branches, snapshot_cap=org.max_snapshots,
                     allow_never_suspend=org.allow_never_suspend)
    out = compute_range(tier.min_cu, tier.max_cu, org_lim, prefix=f"{t}.")
    out += suspend_timeout(tier.suspend_timeout_seconds, org_lim, f"{t}.suspend_timeout_seconds")
    out += history_retention(tier.history_retention_seconds, org_lim,
                             f"{t}.history_retention_seconds")
    if tier.snapshot_cap > org.max_snapshots:
        out.append(Failure(f"{t}.snapshot_cap", f"{tier.snapshot_cap} exceeds org {tier.org}'s "
                                                f"{org.max_snapshots} snapshots per project"))
    if tier.branch_cap > org.max_branches:
        out.append(Failure(f"{t}.branch_cap", f"{tier.branch_cap} exceeds org {tier.org}'s "
                                              f"{org.max_branches} branches per project"))
    return out


def format_failures(failures: list[Failure]) -> str:
    return "; ".join(f"{f.property}: {f.reason}" for f in failures)
