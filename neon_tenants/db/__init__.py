"""PostgreSQL mode (issue 11): the database URL, the schema, the fleet store in PostgreSQL.

With `NEON_TENANTS_DATABASE_URL` unset nothing here is used: fleets stay in files and runs
stay in-process (the embedded default).
"""

from __future__ import annotations

from neon_tenants.db._url import (
    DATABASE_URL_ENV,
    DatabaseUrl,
    DatabaseUrlError,
    database_url,
)

__all__ = ["DATABASE_URL_ENV", "DatabaseUrl", "DatabaseUrlError", "database_url"]
