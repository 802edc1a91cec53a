"""Branch hygiene: the branches undo and snapshot restore leave behind, kept under the cap.

Every undo keeps the pre-restore state as a `pre-restore-<time>` branch, and a finalized
snapshot restore leaves an `(old)` branch when dev branches still hang off it. Both count
against the org's branch limit (free: 10 per project), so without a policy twelve undos
on a free tenant would hit the cap and the thirteenth would fail (issue 10 item 5). The
policy is per tier (`Tier.restore_branches_kept`, `Tier.restore_branches_max_age_seconds`):
keep that many newest pre-restore branches, younger than the age limit, drop childless
`(old)` branches, and make room for what the next operation adds. A branch with children
cannot be deleted (Neon moves a restored branch's children onto the preserved branch, so
the first undo of a tenant with dev branches keeps that one as their parent): it stays, and
is counted, as long as its children live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from neon_tenants.automation._errors import LimitsExceeded

if TYPE_CHECKING:
    from neon_tenants.catalog import Limits, Tier
    from neon_tenants.client import OrgClient

PRE_RESTORE = "pre-restore-"
OLD_SUFFIX = "(old)"


def live_default(org: OrgClient, project_id: str) -> str:
    """The project's default branch id as Neon has it now (a snapshot restore moves it)."""
    for branch in org.iter_branches(project_id):
        if branch.default:
            return branch.id
    raise LimitsExceeded(f"project {project_id} has no default branch")


def _created(branch: Any) -> datetime:
    text = branch.created_at or ""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def victims(
    branches: list[Any], tier: Tier, limits: Limits, room_for: int, now: datetime | None = None
) -> list[Any]:
    """Which branches to delete before adding `room_for` more (pure, for tests)."""
    now = now or datetime.now(UTC)
    parents = {b.parent_id for b in branches if b.parent_id}
    removable = [b for b in branches if not b.default and b.id not in parents]
    old = [b for b in removable if b.name.endswith(OLD_SUFFIX)]
    pre = sorted((b for b in removable if b.name.startswith(PRE_RESTORE)),
                 key=_created, reverse=True)
    keep = max(0, tier.restore_branches_kept - room_for)
    out = list(old) + pre[keep:]
    max_age = tier.restore_branches_max_age_seconds
    if max_age is not None:
        cutoff = now - timedelta(seconds=max_age)
        out += [b for b in pre[:keep] if _created(b) < cutoff]
    # still over the cap: the oldest kept pre-restore branches go too
    spare = [b for b in reversed(pre[:keep]) if b not in out]
    while len(branches) - len(out) + room_for > limits.branch_cap and spare:
        out.append(spare.pop(0))
    return out


def prune(org: OrgClient, project_id: str, tier: Tier, limits: Limits, room_for: int) -> int:
    """Delete what `victims` names; refuse (409) if the cap still leaves no room."""
    branches = list(org.iter_branches(project_id))
    drop = victims(branches, tier, limits, room_for)
    for branch in drop:
        org.delete_branch(project_id, branch.id)
    left = len(branches) - len(drop)
    if left + room_for > limits.branch_cap:
        raise LimitsExceeded(
            f"branches: {left} branches leave no room under the cap of {limits.branch_cap} on "
            f"tier {tier.name}; delete a dev branch first",
            violations=[{"name": "branches", "actual": left + room_for,
                         "limit": limits.branch_cap}],
        )
    return len(drop)
