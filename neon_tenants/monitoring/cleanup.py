"""Inactive-tenant cleanup with notice: warn N days ahead, cancel on activity, delete through
the fleet only after the date (issue 13; issue 10 item 7).

A tenant is inactive when its computes have not been active for `inactive_days`
(`compute_last_active_at` from the project list, or `created_at` for a project that never
started one; the poller stores it in each reading). Each cycle:
- an inactive tenant without a pending notice gets one: a `cleanup_notice` event (through the
  same outbox as quota alerts) naming `delete_after` = now + `notice_days`;
- a pending notice whose tenant was active after the notice was given is cancelled
  (`cleanup_cancelled`);
- a pending notice past its date is carried out through `delete(tenant)`, which is
  `FleetManager.delete`: the fleet file and the stack state are updated and the engine deletes
  the project (after its archive step where the fleet has one), so fleet, state and Neon stay
  consistent. `cleanup_deleted` follows; if the fleet refuses (a failed archive keeps the
  tenant), `cleanup_failed` is raised once and the notice stays pending for the next cycle.
Protected tenants (the fleet's `protected` flag) are never noticed nor deleted. A crash
between deleting and recording leaves a pending notice for a tenant that is gone from the
fleet: it is never read again, so nothing is deleted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from neon_tenants.automation._errors import FleetError
from neon_tenants.monitoring.models import Event, EventKind, Notice
from neon_tenants.monitoring.readings import Reading, iso, parse_ts
from neon_tenants.monitoring.store import UsageStore

Deleter = Callable[[str], None]


class CleanupPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    inactive_days: float = Field(gt=0)
    notice_days: float = Field(default=7, ge=1)


def _event(kind: EventKind, n: Notice, at: str, **detail: str) -> Event:
    return Event(id=Event.make_id(kind, n.tenant, n.noticed_at), kind=kind, tenant=n.tenant,
                 tier=n.tier, project_id=n.project_id, period=n.noticed_at[:7], created_at=at,
                 detail={"delete_after": n.delete_after, "last_active_at": n.last_active_at,
                         **detail})  # fmt: skip


class Cleanup:
    """The cleanup step of a cycle; returns how many events it raised."""

    def __init__(
        self,
        store: UsageStore,
        policy: CleanupPolicy,
        delete: Deleter,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.policy = policy
        self.delete = delete
        self.now = now

    def __call__(self, readings: list[Reading]) -> int:
        moment = self.now()
        at = iso(moment)
        notices = self.store.notices()
        events: list[Event] = []
        for r in readings:
            if r.last_active_at is None:
                continue  # no timestamp at all: never guess that a tenant is idle
            last = parse_ts(r.last_active_at)
            notice = notices.get(r.tenant)
            if notice is not None and notice.status == "pending":
                if r.protected or last > parse_ts(notice.last_active_at):
                    cancelled = notice.model_copy(update={"status": "cancelled"})
                    self.store.put_notice(cancelled)
                    why = "protected" if r.protected else "active again"
                    events.append(_event("cleanup_cancelled", cancelled, at, reason=why))
                elif moment >= parse_ts(notice.delete_after):
                    try:
                        self.delete(r.tenant)
                    except FleetError as exc:  # e.g. the archive failed: keep, say so, retry
                        events.append(_event("cleanup_failed", notice, at, error=str(exc)))
                        continue
                    done = notice.model_copy(update={"status": "deleted"})
                    self.store.put_notice(done)
                    events.append(_event("cleanup_deleted", done, at))
                continue
            idle = moment - last
            if r.protected or idle < timedelta(days=self.policy.inactive_days):
                continue
            new = Notice(tenant=r.tenant, tier=r.tier, project_id=r.project_id, noticed_at=at,
                         delete_after=iso(moment + timedelta(days=self.policy.notice_days)),
                         last_active_at=r.last_active_at)  # fmt: skip
            self.store.put_notice(new)
            events.append(_event("cleanup_notice", new, at,
                                 inactive_days=f"{idle.total_seconds() / 86400:.1f}"))
        return len(self.store.raise_once(events))
