"""Client test fixtures: fake credentials, fast configs, a fake clock, scripted transports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials, OrgCredential

PERSONAL_KEY = "personal-KEY-do-not-leak-111"
FREE_KEY = "free-KEY-do-not-leak-222"
PAID_KEY = "paid-KEY-do-not-leak-333"
SECRETS = (PERSONAL_KEY, FREE_KEY, PAID_KEY)


class FakeClock:
    """Deterministic time: sleep() advances now(); records every sleep."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def creds() -> NeonCredentials:
    return NeonCredentials(
        personal_api_key=SecretStr(PERSONAL_KEY),
        orgs={
            "free": OrgCredential(id="org-free-1", api_key=SecretStr(FREE_KEY)),
            "paid": OrgCredential(id="org-paid-1", api_key=SecretStr(PAID_KEY)),
        },
    )


def fast_config(**overrides: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "backoff_initial": 0.5,
        "backoff_max": 8.0,
        "deadline_seconds": 60.0,
        "operation_poll_initial": 0.1,
        "operation_poll_max": 1.0,
        "operation_timeout": 30.0,
        "rate_limit_enabled": False,
    }
    values.update(overrides)
    return ClientConfig(**values)


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(
    creds: NeonCredentials, clock: FakeClock
) -> Iterator[Callable[..., NeonClient]]:
    """Build a NeonClient over a scripted handler, with fake time (no real sleeps)."""
    made: list[NeonClient] = []

    def factory(handler: Handler, credentials: NeonCredentials | None = None,
                **config: Any) -> NeonClient:
        client = NeonClient(
            credentials or creds,
            fast_config(**config),
            transport=httpx.MockTransport(handler),
            sleep=clock.sleep,
            clock=clock.now,
            rng=lambda: 1.0,
        )
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


class Script:
    """Replies in order; records every request."""

    def __init__(self, *replies: httpx.Response | Exception) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply
