"""Client-side token buckets, so a fleet run stays under Neon's limits instead of eating 429s.

Neon allows 700 requests/minute per account and bursts of 40/s per route (CONTRACT.md
section 0). One bucket per account (key) and one per (account, route template).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A classic token bucket: `capacity` tokens, refilled at `rate` tokens per second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def take(self) -> float:
        """Take one token; return 0 on success, else the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def refund(self) -> None:
        """Return a token taken for a request that was not sent after all."""
        self._tokens = min(self.capacity, self._tokens + 1)


class RateLimiter:
    """Per-account and per-route buckets; `acquire` blocks until both have a token."""

    def __init__(
        self,
        per_minute: int,
        per_route_second: int,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_minute = per_minute
        self.per_route_second = per_route_second
        self.enabled = enabled
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._accounts: dict[str, TokenBucket] = {}
        self._routes: dict[tuple[str, str], TokenBucket] = {}

    def _buckets(self, account: str, route: str) -> tuple[TokenBucket, TokenBucket]:
        acct = self._accounts.get(account)
        if acct is None:
            acct = TokenBucket(self.per_minute, self.per_minute / 60.0, self._clock)
            self._accounts[account] = acct
        rkey = (account, route)
        rbucket = self._routes.get(rkey)
        if rbucket is None:
            rbucket = TokenBucket(self.per_route_second, float(self.per_route_second), self._clock)
            self._routes[rkey] = rbucket
        return acct, rbucket

    def acquire(self, account: str, route: str) -> float:
        """Wait for a token for (account, route); return the seconds spent waiting."""
        if not self.enabled:
            return 0.0
        waited = 0.0
        while True:
            with self._lock:
                acct, rbucket = self._buckets(account, route)
                wait = max(acct.take(), 0.0)
                if wait == 0.0:
                    wait = rbucket.take()
                    if wait > 0:  # give the account token back; we did not send
                        acct.refund()
            if wait == 0.0:
                return waited
            self._sleep(wait)
            waited += wait


__all__ = ["RateLimiter", "TokenBucket"]
