"""The one place that sends HTTP: auth header per call, X-Request-ID, rate limit, retries.

Every request carries a fresh uuid4 `X-Request-ID` (Neon echoes it as `request_id` in
errors). Only the route *template* and ids are logged, never headers, so no key leaks.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ._config import ClientConfig
from ._ratelimit import RateLimiter
from ._retry import (
    MAYBE_SENT_ERRORS,
    NOT_SENT_ERRORS,
    RETRY_STATUSES,
    full_jitter,
    is_idempotent,
    retry_after_seconds,
)
from .errors import (
    AmbiguousOutcome,
    DeadlineExceeded,
    NeonAPIError,
    error_class_for,
)

log = logging.getLogger("neon_tenants.client")

Params = Mapping[str, Any]


class Key:
    """A key plus the name used for rate-limit accounting and logs (never the key itself)."""

    __slots__ = ("account", "secret")

    def __init__(self, account: str, secret: SecretStr) -> None:
        self.account = account
        self.secret = secret

    def __repr__(self) -> str:
        return f"Key(account={self.account!r}, secret=SecretStr('**********'))"


def expand(route: str, path: Mapping[str, Any]) -> str:
    """Fill a route template like /projects/{project_id}; each value is percent-quoted."""
    return route.format(**{k: quote(str(v), safe="") for k, v in path.items()})


def _clean_params(params: Params | None) -> httpx.QueryParams:
    """Drop None values, render bools as true/false and lists as repeated params."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bool):
                out.append((name, "true" if item else "false"))
            else:
                out.append((name, str(item)))
    return httpx.QueryParams(out)


class HttpCore:
    """Sends one logical call (with its retries) and maps failures to the error tree."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self.limiter = RateLimiter(
            config.requests_per_minute,
            config.route_requests_per_second,
            enabled=config.rate_limit_enabled,
            clock=clock,
            sleep=sleep,
        )
        self.http = httpx.Client(
            base_url=config.api_base,
            transport=transport,
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            headers={"Accept": "application/json", "User-Agent": config.user_agent},
        )

    def close(self) -> None:
        self.http.close()

    def _backoff(self, attempt: int) -> float:
        cfg = self.config
        if self._rng is None:
            return full_jitter(attempt, cfg.backoff_initial, cfg.backoff_max)
        return full_jitter(attempt, cfg.backoff_initial, cfg.backoff_max, self._rng)

    def request(
        self,
        method: str,
        route: str,
        key: Key,
        *,
        path: Mapping[str, Any] | None = None,
        params: Params | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise a NeonError subclass."""
        method = method.upper()
        url = expand(route, path or {})
        query = _clean_params(params)
        cfg = self.config
        start = self._clock()
        deadline = start + cfg.deadline_seconds
        attempt = 0
        while True:
            attempt += 1
            request_id = str(uuid.uuid4())
            self.limiter.acquire(key.account, f"{method} {route}")
            headers = {
                "Authorization": f"Bearer {key.secret.get_secret_value()}",
                "X-Request-ID": request_id,
            }
            remaining = max(deadline - self._clock(), 0.001)
            timeout = httpx.Timeout(
                min(cfg.read_timeout, remaining), connect=min(cfg.connect_timeout, remaining)
            )
            retry_wait: float | None = None
            try:
                response = self.http.request(
                    method, url, params=query, json=json, headers=headers, timeout=timeout
                )
            except NOT_SENT_ERRORS as exc:
                last = f"{type(exc).__name__} (not sent)"
            except MAYBE_SENT_ERRORS as exc:
                last = f"{type(exc).__name__} after send"
                if not is_idempotent(method):
                    log.warning("neon %s %s ambiguous: %s id=%s", method, route, last, request_id)
                    raise AmbiguousOutcome(method, route, request_id, last) from None
            else:
                log.debug(
                    "neon %s %s -> %s id=%s attempt=%d",
                    method,
                    route,
                    response.status_code,
                    request_id,
                    attempt,
                )
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise self._api_error(response, request_id)
                last = f"HTTP {response.status_code}"
                retry_wait = retry_after_seconds(response.headers.get("Retry-After"))
                if attempt >= cfg.max_attempts:
                    raise self._api_error(response, request_id)
            if attempt >= cfg.max_attempts:
                raise DeadlineExceeded(method, route, cfg.deadline_seconds, last)
            wait = retry_wait if retry_wait is not None else self._backoff(attempt)
            if self._clock() + wait > deadline:
                raise DeadlineExceeded(method, route, cfg.deadline_seconds, last)
            log.info(
                "neon %s %s retry in %.3fs after %s id=%s", method, route, wait, last, request_id
            )
            self._sleep(wait)

    @staticmethod
    def _api_error(response: httpx.Response, request_id: str) -> NeonAPIError:
        """Build the typed error from a GeneralError body (tolerating non-JSON bodies)."""
        body: Any = None
        try:
            body = response.json()
        except ValueError:
            body = None
        code = message = ""
        rid = request_id
        if isinstance(body, dict):
            code = str(body.get("code") or "")
            message = str(body.get("message") or "")
            rid = str(body.get("request_id") or request_id)
        if not message:
            message = response.reason_phrase or "error"
        cls = error_class_for(response.status_code)
        return cls(response.status_code, code, message, rid, body)


__all__ = ["HttpCore", "Key", "expand"]
