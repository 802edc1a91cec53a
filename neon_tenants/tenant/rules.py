"""Every rule a tenant must meet in its tier, in one pure function (issue 10).

`failures(spec, limits, tier)` lists every problem at once; `FleetManager` runs it before
writing the fleet file or calling Neon, the program runs it again when it builds the
component inputs, and the providers' `check` uses the same `catalog.validate` checks per
resource. Each failure names the field, what is allowed and the tier.

Branch caps count the branches Neon actually has: `pre-restore-*` branches kept by an undo
and `(old)` branches left by a snapshot restore count against the org's limit too, so the
caller may pass `extra_branches` (live branches the spec does not declare).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from neon_tenants.catalog import Limits, Tier
from neon_tenants.catalog import validate as v
from neon_tenants.tenant.model import COMPUTE_KEYS, DEFAULT_BRANCH, TenantSpec


class TenantInvalid(ValueError):
    """A tenant that breaks its tier's rules; `failures` lists every field to change."""

    def __init__(self, tenant: str, tier: str, failures: list[v.Failure]) -> None:
        self.tenant = tenant
        self.tier = tier
        self.failures = failures
        super().__init__(
            f"tenant {tenant!r} is invalid on tier {tier}: {v.format_failures(failures)}"
        )


def retention_window(tier: Tier, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(oldest, newest) moment a point-in-time branch or snapshot may name on this tier."""
    end = now or datetime.now(UTC)
    return end - timedelta(seconds=tier.history_retention_seconds), end


def point_in_time(
    moment: datetime, tier: Tier, prop: str, now: datetime | None = None
) -> list[v.Failure]:
    """A timestamp inside the tier's history retention window (Neon keeps no older WAL)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    start, end = retention_window(tier, now)
    if start <= moment <= end + timedelta(seconds=5):
        return []
    return [v.Failure(prop, f"{moment.isoformat()} is outside the history retention window "
                            f"of tier {tier.name}: allowed {start.isoformat(timespec='seconds')}"
                            f" .. {end.isoformat(timespec='seconds')} "
                            f"({tier.history_retention_seconds} s)")]


def failures(
    spec: TenantSpec,
    tier: Tier,
    limits: Limits,
    *,
    extra_branches: int = 0,
    now: datetime | None = None,
) -> list[v.Failure]:
    """Every rule at once, so one answer lists every fix."""
    min_cu = float(spec.compute_overrides.get("min_cu", tier.min_cu))
    max_cu = float(spec.compute_overrides.get("max_cu", tier.max_cu))
    out = v.tenant_id(spec.id, "id")
    out += v.quota_values(spec.quota_overrides, tier, "quota_overrides")
    for key in spec.compute_overrides:
        if key not in COMPUTE_KEYS:
            out.append(v.Failure(f"compute_overrides.{key}",
                                 f"unknown key on tier {tier.name}; allowed: "
                                 f"{', '.join(COMPUTE_KEYS)}"))
    out += v.compute_range(min_cu, max_cu, limits, "compute_overrides.")
    suspend = int(spec.compute_overrides.get("suspend_timeout_seconds",
                                             tier.suspend_timeout_seconds))
    out += v.suspend_timeout(suspend, limits, "compute_overrides.suspend_timeout_seconds")
    out += v.history_retention(tier.history_retention_seconds, limits,
                               "tier.history_retention_seconds")
    out += v.branch_count(len(spec.dev_branches) + 1 + extra_branches, limits)
    out += v.snapshot_count(len(spec.snapshots), limits)
    seen: set[str] = set()
    for i, b in enumerate(spec.dev_branches):
        p = f"dev_branches[{i}]"
        out += v.branch_name(b.name, f"{p}.name")
        if b.name in seen:
            out.append(v.Failure(f"{p}.name", f"duplicate branch name {b.name!r}"))
        if b.parent != DEFAULT_BRANCH and b.parent not in seen:
            out.append(v.Failure(f"{p}.parent", f"parent {b.parent!r} must be "
                                 f"'{DEFAULT_BRANCH}' or a dev branch declared before it"))
        seen.add(b.name)
        out += v.compute_range(b.min_cu if b.min_cu is not None else min_cu,
                               b.max_cu if b.max_cu is not None else max_cu, limits, f"{p}.")
        if b.suspend_timeout_seconds is not None:
            out += v.suspend_timeout(b.suspend_timeout_seconds, limits,
                                     f"{p}.suspend_timeout_seconds")
    snap_names: set[str] = set()
    for i, s in enumerate(spec.snapshots):
        p = f"snapshots[{i}]"
        if s.name in snap_names:
            out.append(v.Failure(f"{p}.name", f"duplicate snapshot name {s.name!r}"))
        snap_names.add(s.name)
        if s.branch != DEFAULT_BRANCH and s.branch not in seen:
            out.append(v.Failure(f"{p}.branch", f"branch {s.branch!r} must be "
                                 f"'{DEFAULT_BRANCH}' or a declared dev branch"))
    return out


def new_point_in_time(
    spec: TenantSpec, before: TenantSpec | None, tier: Tier, now: datetime | None = None
) -> list[v.Failure]:
    """Window checks for timestamps a change ADDS (an existing branch made at a past moment
    stays valid after the window moves on: only new requests are checked)."""
    old_branches = {b.name: b for b in (before.dev_branches if before else ())}
    old_snaps = {s.name: s for s in (before.snapshots if before else ())}
    out: list[v.Failure] = []
    for i, b in enumerate(spec.dev_branches):
        if b.parent_timestamp is not None and old_branches.get(b.name) != b:
            out += point_in_time(b.parent_timestamp, tier,
                                 f"dev_branches[{i}].parent_timestamp", now)
    for i, s in enumerate(spec.snapshots):
        if s.timestamp is not None and old_snaps.get(s.name) != s:
            out += point_in_time(s.timestamp, tier, f"snapshots[{i}].timestamp", now)
    return out


def require_valid(
    spec: TenantSpec,
    tier: Tier,
    limits: Limits,
    *,
    before: TenantSpec | None = None,
    extra_branches: int = 0,
    now: datetime | None = None,
) -> TenantSpec:
    """`spec`, or TenantInvalid naming every field to change."""
    found = failures(spec, tier, limits, extra_branches=extra_branches, now=now)
    found += new_point_in_time(spec, before, tier, now)
    if found:
        raise TenantInvalid(spec.id, tier.name, found)
    return spec
