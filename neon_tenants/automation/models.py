"""What FleetManager returns: typed, with the connection URI as a SecretStr."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr


class TenantConnection(BaseModel):
    """A tenant's database as the platform backend stores it (issue 7: provision)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    stack: str
    project_id: str
    org_id: str | None = None
    branch_id: str | None = None
    host: str | None = None
    connection_uri: SecretStr

    @classmethod
    def from_output(cls, tenant: str, tier: str, stack: str, value: Any) -> TenantConnection:
        data = dict(value or {})
        return cls(
            tenant=tenant,
            tier=tier,
            stack=stack,
            project_id=str(data.get("project_id") or ""),
            org_id=data.get("org_id"),
            branch_id=data.get("default_branch_id"),
            host=data.get("host"),
            connection_uri=SecretStr(str(data.get("connection_uri") or "")),
        )

    def public(self) -> dict[str, Any]:
        """For display / --json: everything except the URI's password."""
        from neon_tenants.automation._errors import scrub

        out = self.model_dump(exclude={"connection_uri"})
        out["connection_uri"] = scrub(self.connection_uri.get_secret_value())
        return out


class Usage(BaseModel):
    """Current usage read from Neon, compared with a target tier before a downgrade."""

    model_config = ConfigDict(frozen=True)

    logical_size_bytes: int
    branches: int
    snapshots: int


class RestoreResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    branch_id: str
    restored_to: str
    preserved_branch: str


TenantStatusName = Literal["pending", "applying", "ready", "failed", "deleted"]


class TenantStatus(BaseModel):
    """Where a tenant's last request is; `error` is set when `failed`."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    shard: int
    stack: str
    status: TenantStatusName
    error: str | None = None
    version: int = 0
    requested_at: datetime | None = None
    updated_at: datetime | None = None
