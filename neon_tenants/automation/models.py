"""What FleetManager returns: typed, with the connection URI as a SecretStr."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr


def _secret(value: Any) -> SecretStr:
    return SecretStr(str(value or ""))


class BranchConnection(BaseModel):
    """One dev branch of a tenant: its own endpoint, URIs (secrets) and Data API url."""

    model_config = ConfigDict(frozen=True)

    branch_id: str
    host: str | None = None
    connection_uri: SecretStr
    pooled_connection_uri: SecretStr
    data_api_url: str | None = None


class NeonAuthKeys(BaseModel):
    """Neon Auth of the tenant's default branch (Neon returns the keys once, at enable)."""

    model_config = ConfigDict(frozen=True)

    pub_client_key: str
    secret_server_key: SecretStr
    jwks_url: str | None = None


class TenantConnection(BaseModel):
    """A tenant's database as the platform backend stores it (issues 7 and 10).

    `pooled_connection_uri` is the one to hand to application code (`default_uri`: Neon's
    guide says pooled by default); `connection_uri` is the direct one (migrations, long
    sessions). Every URI and the Neon Auth server key are SecretStr: reprs, logs and
    `public()` never show a password or key."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    tier: str
    stack: str
    project_id: str
    org_id: str | None = None
    branch_id: str | None = None
    host: str | None = None
    connection_uri: SecretStr
    pooled_connection_uri: SecretStr = SecretStr("")
    data_api_url: str | None = None
    neon_auth: NeonAuthKeys | None = None
    dev_branches: dict[str, BranchConnection] = {}

    @property
    def default_uri(self) -> SecretStr:
        """Pooled when the tenant has one, else direct."""
        return self.pooled_connection_uri if self.pooled_connection_uri.get_secret_value() \
            else self.connection_uri

    @classmethod
    def from_output(cls, tenant: str, tier: str, stack: str, value: Any) -> TenantConnection:
        data = dict(value or {})
        auth = None
        if data.get("neon_auth_pub_client_key"):
            auth = NeonAuthKeys(
                pub_client_key=str(data["neon_auth_pub_client_key"]),
                secret_server_key=_secret(data.get("neon_auth_secret_server_key")),
                jwks_url=data.get("neon_auth_jwks_url"),
            )
        branches = {
            name: BranchConnection(
                branch_id=str(b.get("branch_id") or ""),
                host=b.get("host"),
                connection_uri=_secret(b.get("connection_uri")),
                pooled_connection_uri=_secret(b.get("pooled_connection_uri")),
                data_api_url=b.get("data_api_url"),
            )
            for name, b in dict(data.get("dev_branches") or {}).items()
        }
        return cls(
            tenant=tenant,
            tier=tier,
            stack=stack,
            project_id=str(data.get("project_id") or ""),
            org_id=data.get("org_id"),
            branch_id=data.get("default_branch_id"),
            host=data.get("host"),
            connection_uri=_secret(data.get("connection_uri")),
            pooled_connection_uri=_secret(data.get("pooled_connection_uri")),
            data_api_url=data.get("data_api_url"),
            neon_auth=auth,
            dev_branches=branches,
        )

    def public(self) -> dict[str, Any]:
        """For display / --json: everything, with URI passwords and keys masked."""
        from neon_tenants.automation._errors import scrub

        def uri(value: SecretStr) -> str:
            return scrub(value.get_secret_value())

        out = self.model_dump(
            mode="json", exclude={"connection_uri", "pooled_connection_uri", "dev_branches"}
        )
        out["connection_uri"] = uri(self.connection_uri)
        out["pooled_connection_uri"] = uri(self.pooled_connection_uri)
        out["default_uri"] = "pooled_connection_uri" if self.pooled_connection_uri \
            .get_secret_value() else "connection_uri"
        out["dev_branches"] = {
            name: {
                **b.model_dump(mode="json", exclude={"connection_uri", "pooled_connection_uri"}),
                "connection_uri": uri(b.connection_uri),
                "pooled_connection_uri": uri(b.pooled_connection_uri),
            }
            for name, b in self.dev_branches.items()
        }
        return out


class Usage(BaseModel):
    """Current usage read from Neon, compared with a target tier before a downgrade: the
    current consumption period's counters (the ones a quota suspends on), the largest
    branch, and the branch and snapshot counts."""

    model_config = ConfigDict(frozen=True)

    logical_size_bytes: int
    branches: int
    snapshots: int
    active_time_seconds: int = 0
    compute_time_seconds: int = 0
    written_data_bytes: int = 0
    data_transfer_bytes: int = 0


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
    operation: int | None = None
    """The queued operation this status follows (PostgreSQL mode), None for a row request."""
    kind: str | None = None
    """That operation's kind (upgrade, snapshot, delete, ...)."""
