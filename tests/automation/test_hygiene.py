"""Branch hygiene per tier: which kept undo branches and `(old)` branches go (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from neon_tenants.automation._hygiene import victims
from neon_tenants.catalog import Limits, builtin_catalog

CAT = builtin_catalog()
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@dataclass
class B:
    id: str
    name: str
    created_at: str
    default: bool = False
    parent_id: str | None = None


def at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def lim(tier: str) -> Limits:
    t = CAT.tiers[tier]
    return Limits.of(t, CAT.orgs[t.org])


def test_free_keeps_one_undo_branch_and_drops_childless_old_branches() -> None:
    branches = [
        B("br-main", "production", at(100), default=True),
        B("br-dev", "dev", at(90), parent_id="br-old1"),
        B("br-old1", "production (old)", at(95)),  # a dev branch hangs off it: kept
        B("br-old2", "production (old)", at(50)),
        *[B(f"br-p{i}", f"pre-restore-{i}", at(40 - i)) for i in range(3)],
    ]
    gone = {b.id for b in victims(branches, CAT.tiers["free"], lim("free"), room_for=1, now=NOW)}
    # free keeps 1 pre-restore branch; the undo about to run adds it, so all 3 go now
    assert gone == {"br-old2", "br-p0", "br-p1", "br-p2"}


def test_pro_keeps_the_newest_and_drops_the_expired() -> None:
    branches = [B("br-main", "production", at(0), default=True)] + [
        B(f"br-p{i}", f"pre-restore-{i}", at(i * 60 * 24)) for i in range(6)  # days old
    ]
    gone = {b.id for b in victims(branches, CAT.tiers["pro"], lim("pro"), room_for=1, now=NOW)}
    kept_newest = {"br-p0", "br-p1"}  # pro keeps 3: 2 now + the one being made
    assert gone == {f"br-p{i}" for i in range(6)} - kept_newest


def test_cap_pressure_drops_kept_branches_oldest_first() -> None:
    tier = CAT.tiers["pro"].model_copy(update={"branch_cap": 4})
    limits = Limits.of(tier, CAT.orgs["paid"])
    branches = [
        B("br-main", "production", at(0), default=True),
        B("br-dev", "dev", at(0)),
        B("br-dev2", "dev2", at(0)),
        B("br-p0", "pre-restore-0", at(1)),
        B("br-p1", "pre-restore-1", at(2)),
    ]
    gone = [b.id for b in victims(branches, tier, limits, room_for=1, now=NOW)]
    assert gone == ["br-p1", "br-p0"]
