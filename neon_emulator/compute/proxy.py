"""Loopback TCP proxy: one asyncio event loop in one background thread for all endpoints.

Each endpoint address (host:port, e.g. 127.1.0.7:5432) gets a listener. On a new client
connection the route's ``resolve`` runs in a worker thread (it may start a suspended
cluster: wake-on-connect), then bytes are piped to the unix socket it returns. A refused
connection (quota) gets a PostgreSQL ErrorResponse, so psql/psycopg show the reason.

TLS (issue #15): an SSLRequest is answered 'S' and the handshake presents the address's
certificate (tls.py); the wake-up happens after it, so a suspended endpoint wakes for TLS
clients too. Over TLS the proxy authenticates roles it knows with SCRAM-SHA-256-PLUS
(_pgwire.py); `sslmode=disable` clients get the plain byte pipe as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, Protocol

from . import _pgwire
from ._scram import Secret
from .backend import ComputeError
from .tls import Identity

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_PROTOCOL_3 = 196608
READ_ONLY_OPTION = "-c default_transaction_read_only=on"
_CHUNK = 64 * 1024


class Refused(Exception):
    """The route will not serve this connection; the text goes to the client."""


class Route(Protocol):
    @property
    def read_only(self) -> bool:
        """Sessions start with default_transaction_read_only=on."""
        ...

    @property
    def identity(self) -> Identity | None:
        """The certificate this address presents (None: plaintext only)."""
        ...

    def password(self, user: str) -> str | None:
        """The role's password if the emulator knows it (then the proxy authenticates)."""
        ...

    def verifier(self, user: str) -> Secret | None:
        """Blocking: the role's SCRAM verifier from the running server (roles made in SQL),
        or None (then the server's own authentication is relayed)."""
        ...

    def resolve(self) -> str:
        """Blocking: make the target ready, return its unix socket path (or raise Refused)."""
        ...

    def opened(self) -> None: ...

    def closed(self) -> None: ...

    def transferred(self, to_client: int) -> None: ...


def error_response(message: str, code: str = "53400") -> bytes:
    """A FATAL ErrorResponse ('E') message in the v3 protocol."""
    fields = b""
    for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)):
        fields += tag + value.encode() + b"\0"
    fields += b"\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


def _with_option(body: bytes, option: str) -> bytes:
    """Add to the 'options' parameter of a v3 StartupMessage body (after the version)."""
    parts = body.split(b"\0")
    pairs = dict(zip(parts[0:-1:2], parts[1::2], strict=False))
    pairs.pop(b"", None)
    old = pairs.get(b"options", b"").decode()
    pairs[b"options"] = (old + " " + option).strip().encode()
    return b"".join(k + b"\0" + v + b"\0" for k, v in pairs.items()) + b"\0"


@dataclass
class Hello:
    """The client's first real packet (after SSL/GSS negotiation) and whether TLS is on."""

    code: int
    body: bytes
    tls: bool

    @property
    def packet(self) -> bytes:
        return struct.pack("!II", len(self.body) + 8, self.code) + self.body


async def _negotiate(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, identity: Identity | None
) -> Hello:
    """Answer SSLRequest with 'S' and a TLS handshake (when the route has a certificate),
    GSSENCRequest with 'N'; return the startup (or cancel) packet that follows."""
    tls = False
    for _ in range(3):
        head = await reader.readexactly(8)
        length, code = struct.unpack("!II", head)
        if code == _SSL_REQUEST and length == 8:
            if identity is None or tls:
                writer.write(b"N")
                await writer.drain()
                continue
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(identity.context)
            tls = True
            continue
        if code == _GSS_REQUEST and length == 8:
            writer.write(b"N")
            await writer.drain()
            continue
        if not 8 <= length <= 10_000:
            raise ConnectionError("invalid startup packet length")
        return Hello(code, await reader.readexactly(length - 8), tls)
    raise ConnectionError("no startup packet")


async def _fail(writer: asyncio.StreamWriter, text: str, code: str = "53400") -> None:
    with contextlib.suppress(Exception):
        writer.write(error_response(text, code))
        await writer.drain()
    writer.close()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, route: Route | None
) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
            if route is not None:
                route.transferred(len(data))
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class Proxy:
    """Listeners keyed by name (e.g. endpoint id + 'direct'/'pooler')."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: dict[str, asyncio.Server] = {}
        self._thread = threading.Thread(target=self._run, name="neon-emulator-proxy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        if not self._loop.is_running() and self._loop.is_closed():
            raise ComputeError("proxy is shut down")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def listen(self, key: str, host: str, port: int, route: Route) -> None:
        """Start (or replace) a listener; returns once it accepts connections."""
        self.close(key)
        try:
            self._call(self._listen(key, host, port, route))
        except OSError as exc:
            raise ComputeError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc

    async def _listen(self, key: str, host: str, port: int, route: Route) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(route, reader, writer)

        server = await asyncio.start_server(handle, host, port, reuse_address=True)
        self._servers[key] = server

    async def _serve(
        self, route: Route, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        route.opened()
        try:
            try:
                hello = await asyncio.wait_for(_negotiate(reader, writer, route.identity), 30)
            except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError,
                    TimeoutError):
                writer.close()
                return
            try:
                path = await asyncio.to_thread(route.resolve)
            except Refused as exc:
                await _fail(writer, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - anything else: tell the client, close
                text = str(exc) if isinstance(exc, ComputeError) else "compute failed to start"
                await _fail(writer, text)
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(path)
            except OSError:
                await _fail(writer, "compute is not reachable")
                return
            try:
                await self._login(route, hello, reader, writer, up_reader, up_writer)
            except (asyncio.IncompleteReadError, ConnectionError, OSError, ssl.SSLError):
                up_writer.close()
                writer.close()
                return
            await asyncio.gather(
                _pipe(reader, up_writer, None), _pipe(up_reader, writer, route)
            )
        finally:
            route.closed()

    async def _login(
        self, route: Route, hello: Hello, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Forward the startup; over TLS, for a role the emulator knows, authenticate the
        client here (SCRAM-SHA-256-PLUS) and log in upstream (see _pgwire)."""
        if hello.code == _PROTOCOL_3 and route.read_only:
            hello = Hello(hello.code, _with_option(hello.body, READ_ONLY_OPTION), hello.tls)
        user = _pgwire.startup_params(hello.body).get("user", "") if (
            hello.code == _PROTOCOL_3) else ""
        identity = route.identity
        password = route.password(user) if hello.tls and user else None
        secret = Secret.from_password(password) if password is not None else None
        if secret is None and hello.tls and user and identity is not None:
            secret = await asyncio.to_thread(route.verifier, user)  # a role made in SQL
        if secret is None or identity is None:
            up_writer.write(hello.packet)  # plaintext, or no SCRAM verifier: the server asks
            await up_writer.drain()
            return
        try:
            final, client_key = await _pgwire.authenticate_client(
                reader, writer, user, secret, identity.end_point_hash)
        except _pgwire.AuthFailed as exc:
            up_writer.close()
            await _fail(writer, str(exc), "28P01")
            raise ConnectionError("client authentication failed") from exc
        try:
            await _pgwire.login_upstream(
                up_reader, up_writer, hello.packet,
                password if password is not None else replace(secret, client_key=client_key))
        except _pgwire.UpstreamRefused as exc:
            up_writer.close()
            if exc.raw:
                writer.write(exc.raw)
                await writer.drain()
            else:
                writer.write(error_response("compute refused the login", "28000"))
            raise ConnectionError("upstream login failed") from exc
        writer.write(_pgwire.auth(12, final) + _pgwire.auth(0))
        await writer.drain()

    def close(self, key: str) -> None:
        if key in self._servers:
            self._call(self._close(key))

    async def _close(self, key: str) -> None:
        server = self._servers.pop(key, None)
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)

    def keys(self) -> list[str]:
        return list(self._servers)

    def shutdown(self) -> None:
        if self._loop.is_closed():
            return
        for key in list(self._servers):
            with contextlib.suppress(Exception):
                self.close(key)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
