"""The database URL: read from the environment only, never printed with its password.

`NEON_TENANTS_DATABASE_URL` is read at run time (never from a file in git, never stored in
Pulumi state). Everything that shows a URL shows `redacted`; everything that hands it to
another program splits the password out into `PGPASSWORD` (libpq and Go's lib/pq both read
it), so neither a process listing nor an engine error message can carry it (issue 11).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

DATABASE_URL_ENV = "NEON_TENANTS_DATABASE_URL"
PULUMI_STATE_TABLE = "pulumi_state"
_SCHEMES = ("postgres", "postgresql")
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@")
_PARAM_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^&\s]+)", re.IGNORECASE)


class DatabaseUrlError(ValueError):
    """The database URL is malformed; the message never contains the URL's password."""


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL URL with its password held apart (a SecretStr)."""

    user: str
    host: str
    port: int
    dbname: str
    password: SecretStr
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise DatabaseUrlError(
                f"{DATABASE_URL_ENV} must start with postgres:// or postgresql:// "
                f"(got scheme {parts.scheme!r})"
            )
        try:
            port = parts.port or 5432
        except ValueError:
            raise DatabaseUrlError(f"{DATABASE_URL_ENV} has an invalid port") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname:
            raise DatabaseUrlError(f"{DATABASE_URL_ENV} needs a host and a database name")
        # libpq also takes `?password=` (and `?user=`): hold a query password apart like the
        # userinfo one, so neither `redacted` nor PULUMI_BACKEND_URL can carry it.
        query = parse_qsl(parts.query, keep_blank_values=True)
        in_query = [v for k, v in query if k == "password"]
        password = unquote(parts.password or "")
        if in_query:  # libpq: a query parameter overrides the userinfo one
            password = in_query[-1]
        return cls(
            user=unquote(parts.username or ""),
            host=parts.hostname,
            port=port,
            dbname=dbname,
            password=SecretStr(password),
            query=tuple((k, v) for k, v in query if k != "password"),
        )

    def _url(
        self, scheme: str, *, password: str | None, extra: Mapping[str, str], mask: bool = False
    ) -> str:
        auth = quote(self.user, safe="")
        if password is not None:
            auth += ":" + ("***" if mask else quote(password, safe=""))
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = urlencode([*self.query, *extra.items()])
        return urlunsplit((scheme, f"{auth}@{host}:{self.port}", "/" + self.dbname, query, ""))

    @property
    def redacted(self) -> str:
        """For doctor, logs and errors: `postgresql://user:***@host:port/db`."""
        shown = "***" if self.password.get_secret_value() else None
        return self._url("postgresql", password=shown, extra={}, mask=True)

    def conninfo(self) -> str:
        """The full URL for psycopg in this process (never logged)."""
        return self._url("postgresql", password=self.password.get_secret_value(), extra={})

    def pulumi_backend(self, table: str = PULUMI_STATE_TABLE) -> tuple[str, dict[str, str]]:
        """(`PULUMI_BACKEND_URL` without the password, env carrying it as PGPASSWORD).

        The engine's DIY PostgreSQL backend registers the `postgres` scheme only and keeps
        its state in one table (key, data JSON); `table` picks it.
        """
        url = self._url("postgres", password=None, extra={"table": table})
        secret = self.password.get_secret_value()
        return url, ({"PGPASSWORD": secret} if secret else {})

    def scrub(self, text: str) -> str:
        """`text` with every form of the password replaced by `***`."""
        text = _PARAM_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", text))
        secret = self.password.get_secret_value()
        if not secret:
            return text
        for form in sorted({secret, quote(secret, safe=""), quote(secret)}, key=len)[::-1]:
            text = text.replace(form, "***")
        return text


def scrub_for(conninfo: str) -> Callable[[str], str]:
    """The scrub an error text stored in the platform database passes: the URI and key
    scrub, then this database's password in every form (a conninfo that is not a URL: the
    first only)."""
    from neon_tenants.automation._errors import scrub as scrub_uris

    try:
        url: DatabaseUrl | None = DatabaseUrl.parse(conninfo)
    except DatabaseUrlError:
        url = None
    return lambda text: url.scrub(scrub_uris(text)) if url else scrub_uris(text)


def database_url(environ: Mapping[str, str] | None = None) -> DatabaseUrl | None:
    """The PostgreSQL mode's URL from the environment, or None (the embedded default)."""
    import os

    env = os.environ if environ is None else environ
    raw = env.get(DATABASE_URL_ENV, "").strip()
    return DatabaseUrl.parse(raw) if raw else None
