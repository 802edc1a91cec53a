"""An httpx transport that counts the poller's requests by route and paces some routes.

Neon asks consumption pollers to stay near 30 requests per minute per account (guide:
"Polling considerations"), a budget of its own beside the 700/min of the whole API. The pacing
sits on the transport, so every request counts, retries included, whatever client method
made it; the counts are what the cycle report and the Prometheus metrics show.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

import httpx

_EPSILON = 1e-6  # float time: wait a hair past the window so the oldest entry really leaves
_ID = re.compile(r"/projects/[^/?]+")


def route_of(request: httpx.Request) -> str:
    """`GET /projects/{project_id}` style keys: ids folded so counts add up per route."""
    path = request.url.path
    cut = path.find("/api/v2")
    path = path[cut + len("/api/v2") :] if cut >= 0 else path
    return f"{request.method} {_ID.sub('/projects/{project_id}', path)}"


class RateBudget:
    """At most `limit` acquisitions in any `window` seconds (a sliding window, no bursts
    beyond it). `clock` and `sleep` are injectable so a benchmark can schedule a 30,000-tenant
    cycle without waiting out the real minutes; `slept` sums the waits either way."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque()
        self._lock = threading.Lock()
        self.slept = 0.0

    def acquire(self) -> None:
        with self._lock:
            while True:
                now = self._clock()
                while self._times and now - self._times[0] >= self.window:
                    self._times.popleft()
                if len(self._times) < self.limit:
                    self._times.append(now)
                    return
                wait = self.window - (now - self._times[0]) + _EPSILON
                self.slept += wait
                self._sleep(wait)


class MeteredTransport(httpx.BaseTransport):
    """Counts every request by route; a request whose route (`route_of`) starts with a
    budget's key waits for that budget first."""

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        budgets: dict[str, RateBudget] | None = None,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self.budgets = dict(budgets or {})
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        route = route_of(request)
        for prefix, budget in self.budgets.items():
            if route.startswith(prefix):
                budget.acquire()
        with self._lock:
            self.counts[route] += 1
        return self._inner.handle_request(request)

    def take_counts(self) -> dict[str, int]:
        """The counts since the last call (one cycle's worth), then start again."""
        with self._lock:
            out = dict(self.counts)
            self.counts.clear()
        return out

    def close(self) -> None:
        self._inner.close()
