"""The cleanup step's rules on a real file store, with the fleet's delete refusing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from neon_tenants.automation import ArchiveFailed
from neon_tenants.monitoring import Cleanup, CleanupPolicy, FileUsageStore, Reading
from neon_tenants.monitoring.readings import iso

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def idle(tenant: str, days: float, protected: bool = False) -> Reading:
    return Reading(tenant=tenant, tier="free", project_id=f"p-{tenant}", org="free",
                   period="2026-11", taken_at=iso(NOW), used={}, limits={}, sources={},
                   last_active_at=iso(NOW - timedelta(days=days)), protected=protected)


def test_a_refused_delete_keeps_the_notice_and_says_so_once(tmp_path: Path) -> None:
    store = FileUsageStore(tmp_path)
    clock = [NOW]
    calls: list[str] = []

    def refuse(tenant: str) -> None:
        calls.append(tenant)
        raise ArchiveFailed(f"tenant {tenant!r} was not deleted: archive failed")

    step = Cleanup(store, CleanupPolicy(inactive_days=30, notice_days=2), refuse,
                   now=lambda: clock[0])
    readings = [idle("a", 40), idle("fresh", 3), idle("guarded", 90, protected=True)]
    assert step(readings) == 1  # one notice: not the fresh one, not the protected one
    clock[0] = NOW + timedelta(days=3)
    assert step(readings) == 1 and step(readings) == 0  # cleanup_failed once, then retried
    assert calls == ["a", "a"]
    assert store.notices()["a"].status == "pending"
    kinds = [(e.kind, e.tenant) for e in store.events()]
    assert kinds == [("cleanup_notice", "a"), ("cleanup_failed", "a")]
    assert "archive failed" in store.events()[1].detail["error"]
