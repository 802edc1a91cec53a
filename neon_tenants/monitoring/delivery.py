"""Events that reach someone: a signed webhook and Python callbacks, through a durable outbox.

An event is written to the store's outbox when raised and leaves it only once every sink has
taken it, so a crash between raising and delivering loses nothing; a crash after a POST and
before it is marked may deliver it again, which is why each request carries the event id
(`X-Neon-Tenants-Event`) for the receiver to drop repeats.

The webhook is a JSON POST signed with HMAC-SHA256 over `"<timestamp>.<body>"`, sent as
`X-Neon-Tenants-Signature: t=<timestamp>,v1=<hex>` (the Stripe scheme, so a receiver can
refuse replays by age). 5xx, 429 and connection errors are retried with exponential backoff
and jitter (tenacity); other 4xx are not (the receiver said no). Every attempt goes to the
delivery log. The URL and secret come from the environment or a file, never from git or
Pulumi state, and neither is ever printed: logs show only the URL's scheme and host.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from neon_tenants.monitoring.models import DeliveryRecord, Event
from neon_tenants.monitoring.readings import iso
from neon_tenants.monitoring.store import UsageStore

SIGNATURE_HEADER = "X-Neon-Tenants-Signature"
EVENT_HEADER = "X-Neon-Tenants-Event"
ENV_URL = "NEON_TENANTS_WEBHOOK_URL"
ENV_SECRET = "NEON_TENANTS_WEBHOOK_SECRET"
ENV_SECRET_FILE = "NEON_TENANTS_WEBHOOK_SECRET_FILE"
ENV_FILE = "NEON_TENANTS_WEBHOOK_FILE"


class DeliveryFailed(Exception):
    """A sink did not take the event (retryable unless `final`)."""

    def __init__(self, message: str, status: int | None = None, *, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.final = final


class WebhookConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(repr=False)  # may carry a token in its path or query
    secret: SecretStr
    timeout_seconds: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=5, ge=1)
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)

    @property
    def where(self) -> str:
        """Scheme and host only: a URL may carry a token in its path or query."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookConfig | None:
        """NEON_TENANTS_WEBHOOK_FILE (JSON `{"url", "secret"}`), or NEON_TENANTS_WEBHOOK_URL
        with NEON_TENANTS_WEBHOOK_SECRET or NEON_TENANTS_WEBHOOK_SECRET_FILE; None if unset."""
        values = dict(os.environ if env is None else env)
        if values.get(ENV_FILE):
            raw = json.loads(Path(values[ENV_FILE]).read_text(encoding="utf-8"))
            return cls(url=raw["url"], secret=SecretStr(raw["secret"]))
        url = values.get(ENV_URL)
        if not url:
            return None
        secret = values.get(ENV_SECRET)
        if not secret and values.get(ENV_SECRET_FILE):
            secret = Path(values[ENV_SECRET_FILE]).read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{ENV_URL} is set but neither {ENV_SECRET} nor {ENV_SECRET_FILE}")
        return cls(url=url, secret=SecretStr(secret))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance: float = 300.0) -> bool:
    """For receivers: the signature matches and is no older than `tolerance` seconds."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        stamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), header)


def body_of(event: Event) -> bytes:
    return json.dumps(event.model_dump(mode="json"), sort_keys=True).encode()


class Sink(Protocol):
    name: str

    def send(self, event: Event) -> int | None:
        """Deliver or raise DeliveryFailed; returns the HTTP status when there is one."""
        ...


class WebhookSink:
    name = "webhook"

    def __init__(self, config: WebhookConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        self._http = httpx.Client(timeout=config.timeout_seconds, transport=transport)

    def send(self, event: Event) -> int | None:
        body = body_of(event)
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event.id,
            SIGNATURE_HEADER: sign(self.config.secret.get_secret_value(), int(time.time()), body),
        }
        try:
            response = self._http.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{self.config.where}: {type(exc).__name__}") from None
        status = response.status_code
        if status >= 500 or status == 429:
            raise DeliveryFailed(f"{self.config.where} answered {status}", status)
        if status >= 400:
            raise DeliveryFailed(f"{self.config.where} answered {status}", status, final=True)
        return status

    def close(self) -> None:
        self._http.close()


class CallbackSink:
    """Events to a Python callable (the platform backend's own handler)."""

    def __init__(self, fn: Callable[[Event], None], name: str = "callback") -> None:
        self.fn = fn
        self.name = name

    def send(self, event: Event) -> int | None:
        try:
            self.fn(event)
        except Exception as exc:  # the callback's failure is the delivery's failure
            raise DeliveryFailed(f"callback raised {type(exc).__name__}: {exc}") from None
        return None


class Dispatcher:
    """Delivers the store's outbox to every sink, each event at most once per sink."""

    def __init__(
        self,
        store: UsageStore,
        sinks: Iterable[Sink],
        *,
        attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.sinks = list(sinks)
        self.attempts = attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.failures = 0  # events a sink still lacks after all attempts (cumulative)

    def deliver_pending(self) -> int:
        """Try every pending event on every sink that lacks it; returns this call's failures.

        A sink that fails one event after every attempt is left alone for the rest of this
        round (its later events wait in the outbox for the next cycle): a receiver that is
        down costs one event's backoff per cycle, not one per event."""
        failed = 0
        down: set[str] = set()
        for event in self.store.pending():
            for sink in self.sinks:
                if sink.name in down or self.store.delivered(event.id, sink.name):
                    continue
                if not self._deliver(sink, event):
                    failed += 1
                    down.add(sink.name)
        self.store.settle(s.name for s in self.sinks)
        self.failures += failed
        return failed

    def _deliver(self, sink: Sink, event: Event) -> bool:
        attempt = 0

        def once() -> None:
            nonlocal attempt
            attempt += 1
            at = iso(datetime.now(UTC))
            try:
                status = sink.send(event)
            except DeliveryFailed as exc:
                self.store.log_delivery(DeliveryRecord(
                    event_id=event.id, sink=sink.name, attempt=attempt, at=at, ok=False,
                    status=exc.status, error=str(exc)))  # fmt: skip
                raise
            self.store.log_delivery(DeliveryRecord(
                event_id=event.id, sink=sink.name, attempt=attempt, at=at, ok=True,
                status=status))  # fmt: skip

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=self.backoff_initial, max=self.backoff_max),
            retry=retry_if_exception(lambda e: isinstance(e, DeliveryFailed) and not e.final),
            sleep=self.sleep,
        )
        try:
            retrying(once)
        except (RetryError, DeliveryFailed):
            return False
        self.store.mark_delivered(event.id, sink.name)
        return True
