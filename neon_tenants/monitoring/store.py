"""Where readings, alert state, the outbox, deliveries and notices survive restarts.

`FileUsageStore` is the embedded default (a folder, `.state/monitoring`): small JSON files
replaced atomically (a `kill -9` leaves the old or the new file, never half of one) and
append-only JSON-lines logs. The history of readings keeps one line per tenant whose counters
changed, per cycle, in one file per billing period.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from neon_tenants.monitoring.models import CycleReport, DeliveryRecord, Event, Notice
from neon_tenants.monitoring.readings import Reading


class UsageStore(Protocol):
    def latest(self) -> dict[str, Reading]: ...

    def save_readings(self, readings: Iterable[Reading]) -> None: ...

    def save_cycle(self, report: CycleReport) -> None: ...

    def last_cycle(self) -> CycleReport | None: ...

    def raise_once(self, events: Iterable[Event]) -> list[Event]:
        """Keep (and queue for delivery) only the events never raised before."""
        ...

    def pending(self) -> list[Event]: ...

    def events(self, period: str | None = None) -> list[Event]:
        """Every event ever raised (oldest first), optionally of one period."""
        ...

    def delivered(self, event_id: str, sink: str) -> bool: ...

    def mark_delivered(self, event_id: str, sink: str) -> None: ...

    def settle(self, sinks: Iterable[str]) -> None: ...

    def log_delivery(self, record: DeliveryRecord) -> None: ...

    def deliveries(self) -> list[DeliveryRecord]: ...

    def notices(self) -> dict[str, Notice]: ...

    def put_notice(self, notice: Notice) -> None: ...


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _append(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class FileUsageStore:
    """A folder of JSON files; one process writes at a time (the poller), readers any time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    # -- readings ---------------------------------------------------------------------------
    def latest(self) -> dict[str, Reading]:
        raw = _read_json(self.root / "latest.json", {})
        return {k: Reading.model_validate(v) for k, v in raw.items()}

    def save_readings(self, readings: Iterable[Reading]) -> None:
        with self._lock:
            latest = _read_json(self.root / "latest.json", {})
            changed: dict[str, list[str]] = {}
            for r in readings:
                old = latest.get(r.tenant)
                if old is None or old.get("used") != r.used or old.get("period") != r.period:
                    changed.setdefault(r.period, []).append(r.model_dump_json())
                latest[r.tenant] = r.model_dump(mode="json")
            for period, lines in changed.items():
                _append(self.root / "history" / f"{period}.jsonl", lines)
            _write_json(self.root / "latest.json", latest)

    def history(self, period: str) -> list[Reading]:
        path = self.root / "history" / f"{period}.jsonl"
        if not path.exists():
            return []
        text = path.read_text(encoding="utf-8")
        return [Reading.model_validate_json(x) for x in text.splitlines() if x.strip()]

    def save_cycle(self, report: CycleReport) -> None:
        _append(self.root / "cycles.jsonl", [report.model_dump_json()])
        _write_json(self.root / "last_cycle.json", report.model_dump(mode="json"))

    def last_cycle(self) -> CycleReport | None:
        raw = _read_json(self.root / "last_cycle.json", None)
        return CycleReport.model_validate(raw) if raw else None

    # -- events: raised once, then an outbox until every sink has them ---------------------
    def _events(self) -> dict[str, Any]:
        data: dict[str, Any] = _read_json(self.root / "events.json", {})
        data.setdefault("raised", {})
        data.setdefault("outbox", {})
        return data

    def raise_once(self, events: Iterable[Event]) -> list[Event]:
        with self._lock:
            data = self._events()
            new = [e for e in events if e.id not in data["raised"]]
            for e in new:
                seq = data["next_seq"] = int(data.get("next_seq", 0)) + 1
                data["raised"][e.id] = e.period
                data["outbox"][e.id] = {"event": e.model_dump(mode="json"), "delivered": [],
                                        "seq": seq}
            if new:
                _append(self.root / "events.jsonl", [e.model_dump_json() for e in new])
                _write_json(self.root / "events.json", data)
            return new

    def events(self, period: str | None = None) -> list[Event]:
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        found = [Event.model_validate_json(x) for x in path.read_text("utf-8").splitlines() if x]
        # a crash between this log and events.json raises the event again: keep the first
        unique = {e.id: e for e in reversed(found)}
        return [e for e in found if unique.get(e.id) is e and (period is None or
                                                                e.period == period)]

    def pending(self) -> list[Event]:
        """Oldest raised first (the file is written with sorted keys: order by `seq`)."""
        entries = sorted(self._events()["outbox"].values(), key=lambda v: int(v.get("seq", 0)))
        return [Event.model_validate(v["event"]) for v in entries]

    def delivered(self, event_id: str, sink: str) -> bool:
        entry = self._events()["outbox"].get(event_id)
        return entry is None or sink in entry["delivered"]

    def mark_delivered(self, event_id: str, sink: str) -> None:
        with self._lock:
            data = self._events()
            entry = data["outbox"].get(event_id)
            if entry is None or sink in entry["delivered"]:
                return
            entry["delivered"].append(sink)
            _write_json(self.root / "events.json", data)

    def settle(self, sinks: Iterable[str]) -> None:
        """Drop from the outbox the events every sink has taken."""
        wanted = set(sinks)
        with self._lock:
            data = self._events()
            done = [k for k, v in data["outbox"].items() if wanted <= set(v["delivered"])]
            for k in done:
                del data["outbox"][k]
            if done:
                _write_json(self.root / "events.json", data)

    def log_delivery(self, record: DeliveryRecord) -> None:
        _append(self.root / "deliveries.jsonl", [record.model_dump_json()])

    def deliveries(self) -> list[DeliveryRecord]:
        path = self.root / "deliveries.jsonl"
        if not path.exists():
            return []
        text = path.read_text(encoding="utf-8")
        return [DeliveryRecord.model_validate_json(x) for x in text.splitlines() if x.strip()]

    # -- cleanup notices --------------------------------------------------------------------
    def notices(self) -> dict[str, Notice]:
        raw = _read_json(self.root / "notices.json", {})
        return {k: Notice.model_validate(v) for k, v in raw.items()}

    def put_notice(self, notice: Notice) -> None:
        with self._lock:
            raw = _read_json(self.root / "notices.json", {})
            raw[notice.tenant] = notice.model_dump(mode="json")
            _write_json(self.root / "notices.json", raw)
