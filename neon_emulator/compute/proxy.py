"""Loopback TCP proxy: one asyncio event loop in one background thread for all endpoints.

Each endpoint address (host:port, e.g. 127.1.0.7:5432) gets a listener. On a new client
connection the route's ``resolve`` runs in a worker thread (it may start a suspended
cluster: wake-on-connect), then bytes are piped to the unix socket it returns. A refused
connection (quota) gets a PostgreSQL ErrorResponse, so psql/psycopg show the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Protocol

from .backend import ComputeError

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


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str) -> None:
    """Read the startup packet (answer 'N' to SSL/GSS requests), then send the error."""
    with contextlib.suppress(Exception):
        for _ in range(3):
            head = await asyncio.wait_for(reader.readexactly(8), 5)
            length, code = struct.unpack("!II", head)
            if code in (_SSL_REQUEST, _GSS_REQUEST) and length == 8:
                writer.write(b"N")
                await writer.drain()
                continue
            await asyncio.wait_for(reader.readexactly(max(0, length - 8)), 5)
            break
        writer.write(error_response(text))
        await writer.drain()
    writer.close()


def _with_option(body: bytes, option: str) -> bytes:
    """Add to the 'options' parameter of a v3 StartupMessage body (after the version)."""
    parts = body.split(b"\0")
    pairs = dict(zip(parts[0:-1:2], parts[1::2], strict=False))
    pairs.pop(b"", None)
    old = pairs.get(b"options", b"").decode()
    pairs[b"options"] = (old + " " + option).strip().encode()
    return b"".join(k + b"\0" + v + b"\0" for k, v in pairs.items()) + b"\0"


async def _forward_startup(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: asyncio.StreamWriter,
    option: str,
) -> None:
    """Read the client's startup (answering SSL/GSS requests 'N' as the server would) and
    send it upstream with an extra option; anything else is forwarded as is."""
    for _ in range(3):
        head = await reader.readexactly(8)
        length, code = struct.unpack("!II", head)
        if code in (_SSL_REQUEST, _GSS_REQUEST) and length == 8:
            writer.write(b"N")
            await writer.drain()
            continue
        body = await reader.readexactly(max(0, length - 8))
        if code == _PROTOCOL_3:
            body = _with_option(body, option)
        upstream.write(struct.pack("!II", len(body) + 8, code) + body)
        await upstream.drain()
        return


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
                path = await asyncio.to_thread(route.resolve)
            except Refused as exc:
                await _refuse(reader, writer, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - anything else: tell the client, close
                text = str(exc) if isinstance(exc, ComputeError) else "compute failed to start"
                await _refuse(reader, writer, text)
                return
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(path)
            except OSError:
                await _refuse(reader, writer, "compute is not reachable")
                return
            if route.read_only:
                try:
                    await _forward_startup(reader, writer, up_writer, READ_ONLY_OPTION)
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    up_writer.close()
                    writer.close()
                    return
            await asyncio.gather(
                _pipe(reader, up_writer, None), _pipe(up_reader, writer, route)
            )
        finally:
            route.closed()

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
