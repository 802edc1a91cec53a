"""Neon's documented rate limits: 700 requests/minute per account, 40/second per route.

Sliding windows of request times; over the limit the request gets 429 (the spec documents no
Retry-After header, so none is sent and clients back off on their own).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from neon_emulator.settings import RateLimitConfig


class _Window:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.times: deque[float] = deque()

    def hit(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


class RateLimiter:
    def __init__(self, config: RateLimitConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._accounts: dict[str, _Window] = {}
        self._routes: dict[tuple[str, str], _Window] = {}

    def reset(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._routes.clear()

    def allow(self, account: str, route: str) -> str | None:
        """None when allowed, else which limit was hit."""
        if not self.config.enabled:
            return None
        now = time.monotonic()
        with self._lock:
            acc = self._accounts.setdefault(
                account, _Window(self.config.per_account_per_minute, 60.0)
            )
            rt = self._routes.setdefault(
                (account, route), _Window(self.config.per_route_per_second, 1.0)
            )
            if not rt.hit(now):
                return f"rate limit of {self.config.per_route_per_second} requests per second"
            if not acc.hit(now):
                rt.times.pop()
                return f"rate limit of {self.config.per_account_per_minute} requests per minute"
        return None
