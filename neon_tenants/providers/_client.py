"""One Neon client per provider process, shared by every handler call of the run (#10 item 9).

The engine starts one dynamic-provider process per `up`/`preview` of a stack and calls its
handlers from a small thread pool. Building a client per handler call (as before #16) gave
every resource its own connection pool and its own rate limiter, so a fleet `up` could go over
Neon's 700 requests/minute per key (CONTRACT.md section 0). Here the client is built once, on
the first create/read/update/delete, from the process's environment (keys are read at run
time, never pickled into state); its `HttpCore` holds one token bucket per API key and route,
shared by all resources of the run. `httpx.Client` and the limiter are thread-safe.

Nothing is cached on the provider instance: instances are pickled into the state by
reference, and the cache below lives only in the provider process's memory.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING

from neon_tenants.providers import _profile
from neon_tenants.providers._errors import ProviderError

if TYPE_CHECKING:
    from neon_tenants.client import NeonClient


_lock = threading.Lock()
_client: NeonClient | None = None


def provider_client() -> NeonClient:
    """The process's client, built on first use (check and diff never call this)."""
    global _client
    with _lock:
        if _client is None:
            _client = _build()
            atexit.register(close_provider_client)
        return _client


def close_provider_client() -> None:
    """Close and forget the client (process exit; tests that switch emulators)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
            _client = None


def _build() -> NeonClient:
    # imported here: the provider modules are imported by every program run and by the
    # engine's preview, which never needs httpx (a 1,000-tenant preview makes no API call)
    from neon_tenants.client import ClientConfig, NeonClient, NeonCredentials

    creds = NeonCredentials.from_env()
    if creds.is_empty():
        raise ProviderError(
            "no Neon credentials in the provider's environment: set NEON_CREDENTIALS_FILE "
            "or NEON_PERSONAL_API_KEY / NEON_<ORG>_ORG_ID / NEON_<ORG>_ORG_API_KEY, or use the "
            "local emulator: neon-tenants emulator start && "
            'eval "$(neon-tenants emulator env)"'
        )
    base_url = os.environ.get("NEON_API_BASE_URL")
    config = ClientConfig(base_url=base_url) if base_url else ClientConfig()
    transport, sleep = _profile.instruments()
    if sleep is None:
        return NeonClient(creds, config=config, transport=transport)
    return NeonClient(creds, config=config, transport=transport, sleep=sleep)
