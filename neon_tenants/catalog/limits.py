"""The effective limits of one tier inside its organization, flattened.

Providers carry this small object in their inputs so that `check` (which the engine runs in
the provider process, with no catalog at hand) validates against the same numbers the
program was built with, including a YAML override.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from neon_tenants.catalog.tiers import OrgLimits, Tier


class Limits(BaseModel):
    """Tier range intersected with the org's limits; `tier` and `org` name them in messages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tier: str
    org: str
    min_cu: float
    max_cu: float
    min_suspend_timeout_seconds: int
    max_history_retention_seconds: int
    branch_cap: int
    snapshot_cap: int
    allow_never_suspend: bool = True

    @classmethod
    def of(cls, tier: Tier, org: OrgLimits) -> Limits:
        return cls(
            tier=tier.name,
            org=tier.org,
            min_cu=max(tier.min_cu, org.min_cu),
            max_cu=min(tier.max_cu, org.max_cu),
            min_suspend_timeout_seconds=org.min_suspend_timeout_seconds,
            max_history_retention_seconds=org.max_history_retention_seconds,
            branch_cap=min(tier.branch_cap, org.max_branches),
            snapshot_cap=min(tier.snapshot_cap, org.max_snapshots),
            allow_never_suspend=org.allow_never_suspend,
        )
