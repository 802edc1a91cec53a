"""RFC 3339 timestamps in one canonical form, so API echoes never read as drift."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator


def canonical(value: str | datetime | None) -> str | None:
    """`YYYY-MM-DDTHH:MM:SSZ` in UTC (Neon wants expires_at to the second)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


CanonicalTime = Annotated[str | None, BeforeValidator(canonical)]
"""A model field holding an optional time in the canonical form, whatever form it came in."""
