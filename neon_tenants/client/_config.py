"""ClientConfig: every tunable of the client in one frozen value object.

Defaults follow Neon's documented limits (CONTRACT.md section 0): 700 requests/minute per
account, bursts of 40/s per route. Backoff values are configurable so unit tests run in
milliseconds instead of seconds.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_BASE_URL = "https://console.neon.tech/api/v2"
DEFAULT_REQUESTS_PER_MINUTE = 700
DEFAULT_ROUTE_REQUESTS_PER_SECOND = 40


class ClientConfig(BaseModel):
    """How the client talks to Neon (or the emulator)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = DEFAULT_BASE_URL
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    # retries (423/429/503 and connection errors)
    deadline_seconds: float = Field(default=120.0, gt=0, description="total time per call")
    max_attempts: int = Field(default=12, ge=1)
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=20.0, ge=0)
    # operations[]
    operation_timeout: float = Field(default=600.0, gt=0)
    operation_poll_initial: float = Field(default=0.25, ge=0)
    operation_poll_max: float = Field(default=5.0, ge=0)
    # client-side rate limiting
    rate_limit_enabled: bool = True
    requests_per_minute: int = Field(default=DEFAULT_REQUESTS_PER_MINUTE, ge=1)
    route_requests_per_second: int = Field(default=DEFAULT_ROUTE_REQUESTS_PER_SECOND, ge=1)
    # pagination page sizes (spec maxima: projects 400, branches 10000, operations 1000)
    projects_page_size: int = Field(default=100, ge=1, le=400)
    branches_page_size: int = Field(default=100, ge=1, le=10000)
    operations_page_size: int = Field(default=100, ge=1, le=1000)
    transfer_chunk_size: int = Field(default=400, ge=1, le=400)
    user_agent: str = "neon-tenants/0.1"

    @property
    def api_base(self) -> str:
        """base_url without a trailing slash."""
        return self.base_url.rstrip("/")


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "DEFAULT_ROUTE_REQUESTS_PER_SECOND",
    "ClientConfig",
]
