"""Emulator settings: one pydantic model, loaded from an optional YAML/JSON config file.

Defaults follow the Agent plan guide's organization table (CONTRACT.md section 0 and the seed
guide): a Free org and a paid org, 700 req/min per key and 40 req/s per route.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field


class OrgLimits(BaseModel):
    """Per-organization limits (the guide's table); enforced with 422 GeneralErrors."""

    model_config = ConfigDict(extra="forbid")

    max_projects: int = 30_000
    max_branches: int = 10
    max_snapshots: int = 1
    min_cu: float = 0.25
    max_cu: float = 2.0
    max_history_retention_seconds: int = 86_400
    min_suspend_timeout_seconds: int = 300
    max_active_endpoints: int = 20
    max_read_only_endpoints: int = 3


FREE_LIMITS = OrgLimits()
PAID_LIMITS = OrgLimits(
    max_projects=30_000,
    max_branches=1_000,
    max_snapshots=10,
    max_cu=16.0,
    max_history_retention_seconds=604_800,
    min_suspend_timeout_seconds=60,
)


class OrgConfig(BaseModel):
    """An organization of the world; `alias` is the key in credentials.json."""

    model_config = ConfigDict(extra="forbid")

    alias: str
    name: str | None = None
    plan: str = "free_v3"
    limits: OrgLimits = Field(default_factory=OrgLimits)
    api_key: str | None = None  # fixed key (tests); random when None


class RateLimitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    per_account_per_minute: int = 700
    per_route_per_second: int = 40


class FaultRule(BaseModel):
    """One fault: matches `METHOD /api/v2/path/template` (fnmatch), see engine/faults.py."""

    model_config = ConfigDict(extra="forbid")

    route: str = "*"
    error_rate: float = 0.0
    status: int = 503
    latency_ms: int = 0
    drop_after_act: bool = False  # run the handler, then drop the connection (ambiguous)
    times: int | None = None  # stop after firing this many times


def _default_orgs() -> list[OrgConfig]:
    return [
        OrgConfig(alias="free", name="Free (sponsored)", plan="free_v3", limits=FREE_LIMITS),
        OrgConfig(alias="paid", name="Paid", plan="scale_v3", limits=PAID_LIMITS),
    ]


class EmulatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Path(".emulator")
    host: str = "127.0.0.1"
    port: int = 4444
    compute: Literal["postgres", "metadata"] = "postgres"
    endpoint_port: int = 5432
    op_duration_ms: int = 50
    op_workers: int = 4
    orgs: list[OrgConfig] = Field(default_factory=_default_orgs)
    personal_api_key: str | None = None
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    faults: list[FaultRule] = Field(default_factory=list)
    fault_seed: int | None = None  # seeds the faults' coin flips: a chaos case can be replayed
    expiry_check_seconds: float = 1.0
    region_id: str = "aws-us-east-2"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def tls_dir(self) -> Path:
        """The CA and server keys (compute/tls.py), one set per data dir."""
        return self.data_dir / "tls"

    @property
    def ca_file(self) -> Path:
        """The CA certificate, next to credentials.json: `sslrootcert=` for verify-full."""
        return self.data_dir / "ca.pem"


def read_config_file(path: Path) -> dict[str, Any]:
    """YAML is a superset of JSON, but JSON files are parsed as JSON for clear errors."""
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"emulator config {path} must be a mapping")
    return data


def load_settings(
    *, data_dir: str | Path, port: int, config_path: str | Path | None = None
) -> EmulatorSettings:
    raw: dict[str, Any] = read_config_file(Path(config_path)) if config_path else {}
    raw["data_dir"] = Path(data_dir)
    raw["port"] = port
    return EmulatorSettings.model_validate(raw)
