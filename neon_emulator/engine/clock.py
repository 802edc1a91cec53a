"""A wall clock with an offset, moved by `POST /_emulator/clock` to test expiry and windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> datetime:
        self.offset += timedelta(seconds=seconds)
        return self.now()


def iso(dt: datetime) -> str:
    """RFC 3339 with a Z, to the second, as Neon renders timestamps."""
    return dt.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_ts(value: str) -> datetime:
    """Parse RFC 3339; ValueError for anything unusable (also out-of-range after UTC shift)."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"timestamp out of range: {value!r}") from exc
    return dt
