"""What a tenant-facing command (migration, archive) must never see: the platform's secrets.

pulumi-command runs a Command with its provider's environment, which is the engine's, which
is the worker's: the platform database's password (`PGPASSWORD`, handed to the engine for its
state backend), `NEON_TENANTS_DATABASE_URL`, the stacks' passphrase and the Neon API keys. A
migration or archive command is the user's code and gets only its tenant's connection string.
"""

from __future__ import annotations

from collections.abc import Mapping

from neon_tenants.db._url import DATABASE_URL_ENV

PLATFORM_SECRET_ENV = (
    "PGPASSWORD",
    DATABASE_URL_ENV,
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "NEON_API_KEY",
    "NEON_PERSONAL_API_KEY",
    "NEON_FREE_ORG_API_KEY",
    "NEON_PAID_ORG_API_KEY",
    "NEON_CREDENTIALS_FILE",
)
"""Unset in what runs a tenant-facing command (fixed order: it is a Command input)."""


def shell_without_platform_secrets() -> list[str]:
    """A Command's `interpreter`: `/bin/sh -c` with every platform secret unset."""
    unset = [arg for name in PLATFORM_SECRET_ENV for arg in ("-u", name)]
    return ["/usr/bin/env", *unset, "/bin/sh", "-c"]


def without_platform_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """`env` minus every platform secret (for a subprocess running a tenant-facing command)."""
    return {k: v for k, v in env.items() if k not in PLATFORM_SECRET_ENV}


__all__ = ["PLATFORM_SECRET_ENV", "shell_without_platform_secrets", "without_platform_secrets"]
