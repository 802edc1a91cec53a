"""NeonCredentials: the personal key and one key per organization alias.

One format for Neon and the emulator (ARCHITECTURE.md "Credentials"): a credentials.json
`{"personal_api_key": ..., "orgs": {alias: {"id": ..., "api_key": ...}}}` and/or the
NEON_* environment variables (env wins). Keys are SecretStr so reprs and logs redact them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from .errors import MissingCredential

_ENV_ORGS = {"free": "NEON_FREE_ORG", "paid": "NEON_PAID_ORG"}
KEY_ENV_VARS = ("NEON_PERSONAL_API_KEY",) + tuple(
    prefix + suffix for prefix in _ENV_ORGS.values() for suffix in ("_ID", "_API_KEY")
)
"""The key variables `from_env` reads on top of the file (org ids count: they pick the org)."""
CREDENTIAL_ENV_VARS = ("NEON_CREDENTIALS_FILE", *KEY_ENV_VARS)
"""Every variable `from_env` reads; a tool that must not reach real Neon drops them all."""


class OrgCredential(BaseModel):
    """An organization id and its org API key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    api_key: SecretStr


class NeonCredentials(BaseModel):
    """Which key to use for which call: org keys by alias, and the personal key."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    personal_api_key: SecretStr | None = None
    orgs: dict[str, OrgCredential] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> NeonCredentials:
        """Read a credentials.json (the emulator writes one into its data dir)."""
        with open(path, encoding="utf-8") as handle:
            return cls.model_validate(json.load(handle))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NeonCredentials:
        """NEON_CREDENTIALS_FILE first, then the NEON_* key variables on top (env wins)."""
        env = os.environ if environ is None else environ
        base = cls()
        if env.get("NEON_CREDENTIALS_FILE"):
            base = cls.from_file(env["NEON_CREDENTIALS_FILE"])
        personal = base.personal_api_key
        if env.get("NEON_PERSONAL_API_KEY"):
            personal = SecretStr(env["NEON_PERSONAL_API_KEY"])
        orgs = dict(base.orgs)
        for alias, prefix in _ENV_ORGS.items():
            org_id, key = env.get(f"{prefix}_ID"), env.get(f"{prefix}_API_KEY")
            old = orgs.get(alias)
            org_id = org_id or (old.id if old else None)
            secret = SecretStr(key) if key else (old.api_key if old else None)
            if org_id and secret is not None:
                orgs[alias] = OrgCredential(id=org_id, api_key=secret)
        return cls(personal_api_key=personal, orgs=orgs)

    def is_empty(self) -> bool:
        """True when nothing is configured (the tools then use the local emulator)."""
        return self.personal_api_key is None and not self.orgs

    def resolve(self, alias_or_id: str) -> tuple[str, OrgCredential]:
        """Find an org by alias or by org id; returns (alias, credential)."""
        if alias_or_id in self.orgs:
            return alias_or_id, self.orgs[alias_or_id]
        for alias, org in self.orgs.items():
            if org.id == alias_or_id:
                return alias, org
        known = ", ".join(sorted(self.orgs)) or "none"
        raise MissingCredential(f"org API key for {alias_or_id!r}", f"known org aliases: {known}")

    def personal(self) -> SecretStr:
        """The personal key, or MissingCredential before any request is made."""
        if self.personal_api_key is None:
            raise MissingCredential(
                "personal_api_key",
                "set NEON_PERSONAL_API_KEY or personal_api_key in NEON_CREDENTIALS_FILE",
            )
        return self.personal_api_key


__all__ = ["NeonCredentials", "OrgCredential"]
