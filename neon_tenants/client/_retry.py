"""Retry policy: which failures are retried, how long to wait, and when it is ambiguous.

- 423 (locked by a running operation), 429 and 503 are always safe to retry (CONTRACT.md
  section 0: the spec says so for 423/503; a 429 is rejected before any work).
- Connection errors before the request reached the server (connect error/timeout) are safe
  for every method. After the request was sent (read timeout, dropped connection) only
  idempotent methods are retried; a POST/PATCH/PUT/DELETE becomes AmbiguousOutcome.
- Waits: exponential backoff with full jitter (AWS architecture blog), `Retry-After` wins
  when present, all bounded by a total deadline per call.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUSES = frozenset({423, 429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# httpx raises these before a single byte reached the server: nothing can have happened.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,  # no connection was ever acquired
)
# These happen once the request may have been (partly) delivered.
MAYBE_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def full_jitter(
    attempt: int, initial: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to sleep before retry number `attempt` (1-based): U(0, min(cap, initial*2^n))."""
    ceiling = min(cap, initial * (2 ** max(attempt - 1, 0)))
    return float(ceiling * rng())


def retry_after_seconds(value: str | None, now: Callable[[], float] | None = None) -> float | None:
    """Parse a Retry-After header (delta-seconds or HTTP date); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    import time as _time

    current = now() if now is not None else _time.time()
    return max(0.0, when.timestamp() - current)


def is_idempotent(method: str) -> bool:
    """GET, HEAD and OPTIONS are idempotent; POST, PATCH, PUT and DELETE are not (spec)."""
    return method.upper() in IDEMPOTENT_METHODS


__all__ = [
    "IDEMPOTENT_METHODS",
    "MAYBE_SENT_ERRORS",
    "NOT_SENT_ERRORS",
    "RETRY_STATUSES",
    "full_jitter",
    "is_idempotent",
    "retry_after_seconds",
]
