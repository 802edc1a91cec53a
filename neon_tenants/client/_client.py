"""NeonClient: picks the right key for each call and hands out per-key API objects.

Org-scoped calls (projects, branches, ...) use that org's API key; transfers, users/me and
account API keys use the personal key (CONTRACT.md section 1). One HttpCore (connection
pool, rate limiter) is shared by every key, so limits are tracked per key inside it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from ._branches import BranchesMixin
from ._config import DEFAULT_BASE_URL, ClientConfig
from ._credentials import NeonCredentials
from ._endpoints import EndpointsMixin
from ._extras import ExtrasMixin
from ._http import HttpCore, Key
from ._personal import PersonalClient
from ._projects import ProjectsMixin
from ._snapshots import SnapshotsMixin


class OrgClient(ProjectsMixin, BranchesMixin, EndpointsMixin, SnapshotsMixin, ExtrasMixin):
    """Every call made with one organization's API key."""

    def __init__(self, core: HttpCore, key: Key, alias: str, org_id: str) -> None:
        super().__init__(core, key)
        self.alias = alias
        self.org_id = org_id

    def __repr__(self) -> str:
        return f"OrgClient(alias={self.alias!r}, org_id={self.org_id!r})"


class NeonClient:
    """Entry point: `client.org("free")`, `client.personal`, `client.for_project(...)`."""

    def __init__(
        self,
        credentials: NeonCredentials,
        config: ClientConfig | None = None,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] | None = None,
    ) -> None:
        self.credentials = credentials
        self.config = config or ClientConfig()
        self._core = HttpCore(self.config, transport=transport, sleep=sleep, clock=clock, rng=rng)
        self._orgs: dict[str, OrgClient] = {}

    @classmethod
    def from_env(cls, transport: httpx.BaseTransport | None = None) -> NeonClient:
        """Credentials and NEON_API_BASE_URL from the environment (ARCHITECTURE.md)."""
        base = os.environ.get("NEON_API_BASE_URL") or DEFAULT_BASE_URL
        return cls(NeonCredentials.from_env(), ClientConfig(base_url=base), transport)

    def org(self, alias_or_id: str) -> OrgClient:
        """The client for one organization, by alias (`free`, `paid`) or org id."""
        alias, cred = self.credentials.resolve(alias_or_id)
        client = self._orgs.get(alias)
        if client is None:
            client = OrgClient(self._core, Key(f"org:{alias}", cred.api_key), alias, cred.id)
            self._orgs[alias] = client
        return client

    def for_project(self, project_id: str, org_alias: str) -> OrgClient:
        """Same as org(); reads nicely at call sites that work on one project."""
        del project_id  # projects carry no key of their own; the org key covers them
        return self.org(org_alias)

    @property
    def personal(self) -> PersonalClient:
        """Raises MissingCredential (before any request) when no personal key is set."""
        return PersonalClient(self._core, Key("personal", self.credentials.personal()))

    @property
    def limiter_enabled(self) -> bool:
        return self._core.limiter.enabled

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> NeonClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        orgs = sorted(self.credentials.orgs)
        return f"NeonClient(base_url={self.config.base_url!r}, orgs={orgs})"
