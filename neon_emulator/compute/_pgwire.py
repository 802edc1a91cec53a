"""The few PostgreSQL wire-protocol steps the proxy performs itself: SCRAM with the client
(channel-bound over TLS) and the matching SCRAM login to the compute or its PgBouncer.

Why the proxy authenticates (issue #15): TLS ends at the proxy (each endpoint address has
its own certificate, see tls.py), and behind it are unix sockets to PostgreSQL and to
PgBouncer. PgBouncer offers no SCRAM-SHA-256-PLUS to clients at all (pgbouncer/pgbouncer#522),
and a backend behind a unix socket cannot bind to a TLS channel it never saw. So, as Neon's
own proxy does, the emulator's proxy is the SCRAM server for the client (advertising
SCRAM-SHA-256-PLUS with tls-server-end-point binding to the certificate it presented), then
logs in upstream as an ordinary SCRAM client (_scram.py): with the role's password when the
control plane made the role, else (a role made in SQL, direct address) with the ClientKey
the client just proved against the verifier read from pg_authid (SCRAM pass-through).
"""

from __future__ import annotations

import asyncio
import struct

from ._scram import ScramClient, ScramError, ScramServer, Secret

_AUTH_OK, _AUTH_CLEARTEXT, _AUTH_SASL, _AUTH_SASL_CONTINUE, _AUTH_SASL_FINAL = 0, 3, 10, 11, 12
PLUS, PLAIN = "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"


class AuthFailed(Exception):
    """The client did not prove the password (or broke off); the text goes to the client."""


class UpstreamRefused(Exception):
    """The compute or pooler refused the login; `raw` is its ErrorResponse, to forward."""

    def __init__(self, raw: bytes) -> None:
        super().__init__("upstream refused the login")
        self.raw = raw


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def auth(code: int, data: bytes = b"") -> bytes:
    return message(b"R", struct.pack("!I", code) + data)


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readexactly(5)
    (length,) = struct.unpack("!I", head[1:])
    if not 4 <= length <= 1_000_000:
        raise ConnectionError("invalid message length")
    return head[:1], await reader.readexactly(length - 4)


def startup_params(body: bytes) -> dict[str, str]:
    """Parameters of a v3 StartupMessage body (after the protocol version)."""
    parts = body.split(b"\0")
    return {k.decode(errors="replace"): v.decode(errors="replace")
            for k, v in zip(parts[0:-1:2], parts[1::2], strict=False) if k}


def _initial_response(payload: bytes) -> tuple[str, bytes]:
    name, _, rest = payload.partition(b"\0")
    if len(rest) < 4:
        raise AuthFailed("malformed SASL initial response")
    (length,) = struct.unpack("!i", rest[:4])
    return name.decode(errors="replace"), rest[4:4 + length] if length >= 0 else b""


async def _client_says(reader: asyncio.StreamReader) -> bytes:
    kind, payload = await read_message(reader)
    if kind != b"p":
        raise AuthFailed("expected a SASL response")
    return payload


async def authenticate_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, user: str, secret: Secret,
    end_point_hash: bytes,
) -> tuple[bytes, bytes]:
    """SCRAM server side over TLS; returns the server-final message to send once the
    upstream login succeeded, and the ClientKey the client proved. Raises AuthFailed on a
    wrong proof or a downgrade."""
    writer.write(auth(_AUTH_SASL, f"{PLUS}\0{PLAIN}\0\0".encode()))
    await writer.drain()
    name, client_first = _initial_response(await _client_says(reader))
    if name not in (PLUS, PLAIN):
        raise AuthFailed(f"unsupported SASL mechanism {name!r}")
    server = ScramServer(secret, cbind=end_point_hash, plus=name == PLUS)
    try:
        first = server.first(client_first.decode())
        writer.write(auth(_AUTH_SASL_CONTINUE, first.encode()))
        await writer.drain()
        final = server.final((await _client_says(reader)).decode())
    except (ScramError, UnicodeDecodeError) as exc:
        raise AuthFailed(f'password authentication failed for user "{user}"') from exc
    assert server.client_key is not None
    return final.encode(), server.client_key


async def login_upstream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, startup: bytes,
    credential: str | Secret,
) -> None:
    """Send the startup packet and answer the server's authentication until AuthenticationOk:
    with the password, or with a proved Secret (the server must hold that same verifier).

    Raises UpstreamRefused (with the server's ErrorResponse when it sent one)."""
    writer.write(startup)
    await writer.drain()
    client: ScramClient | None = None
    while True:
        kind, payload = await read_message(reader)
        if kind == b"E":
            raise UpstreamRefused(message(kind, payload))
        if kind != b"R" or len(payload) < 4:
            raise UpstreamRefused(b"")
        (code,) = struct.unpack("!I", payload[:4])
        data = payload[4:]
        try:
            if code == _AUTH_OK:
                return
            if code == _AUTH_CLEARTEXT and isinstance(credential, str):
                writer.write(message(b"p", credential.encode() + b"\0"))
            elif code == _AUTH_SASL and PLAIN.encode() in data.split(b"\0"):
                client = ScramClient(credential)
                first = client.first().encode()
                writer.write(message(b"p", PLAIN.encode() + b"\0"
                                     + struct.pack("!i", len(first)) + first))
            elif code == _AUTH_SASL_CONTINUE and client is not None:
                writer.write(message(b"p", client.final(data.decode()).encode()))
            elif code == _AUTH_SASL_FINAL and client is not None:
                client.check(data.decode())
                continue
            else:
                raise UpstreamRefused(b"")
        except (ScramError, UnicodeDecodeError) as exc:
            raise UpstreamRefused(b"") from exc
        await writer.drain()
