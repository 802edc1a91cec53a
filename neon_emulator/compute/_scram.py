"""SCRAM-SHA-256 verifiers computed here, so that no plain password travels in SQL text.

A statement that fails can be echoed into the server log or an error message; a verifier
in ``CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'`` is what PostgreSQL stores anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

ITERATIONS = 4096


def verifier(password: str) -> str:
    """The pg_authid form of a password. Non-ASCII passwords need SASLprep: left to
    the server (returned unchanged)."""
    if not password.isascii():
        return password
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


# -- the SCRAM-SHA-256(-PLUS) exchange (RFC 5802, RFC 7677, RFC 5929 tls-server-end-point) ------
# The proxy speaks it on both sides (compute/_pgwire.py). Written on hashlib/hmac here rather
# than taken from `scramp`: libpq sends an empty SCRAM username (`n=`; PostgreSQL takes the
# user from the startup packet), which scramp's server refuses as malformed.


class ScramError(Exception):
    """The peer's SCRAM message is malformed, or its proof or channel binding is wrong."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if sep and len(key) == 1:
            out.setdefault(key, value)
    return out


@lru_cache(maxsize=1024)
def _keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes, bytes]:
    """(ClientKey, StoredKey, ServerKey). Cached: PBKDF2 is the cost of a connection, and the
    proxy runs it on its event loop for both sides of every TLS login; the salts repeat (the
    server's per role below, PostgreSQL's and PgBouncer's per verifier)."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return client_key, hashlib.sha256(client_key).digest(), server_key


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Secret:
    """What a SCRAM server needs (a pg_authid verifier's parts). `client_key` is known only
    after a client proved it: then the proxy can log in upstream with the same verifier
    without ever having the password (SCRAM pass-through, as PgBouncer does)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes
    client_key: bytes | None = None

    @classmethod
    def from_password(cls, password: str) -> Secret:
        salt = _server_salt(password)
        client_key, stored, server = _keys(password, salt, ITERATIONS)
        return cls(salt, ITERATIONS, stored, server, client_key)

    @classmethod
    def from_verifier(cls, text: str) -> Secret | None:
        """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, else None."""
        try:
            mech, rest = text.split("$", 1)
            head, keys = rest.split("$", 1)
            iterations, salt = head.split(":", 1)
            stored, server = keys.split(":", 1)
            if mech != "SCRAM-SHA-256":
                return None
            return cls(base64.b64decode(salt), int(iterations), base64.b64decode(stored),
                       base64.b64decode(server))
        except (ValueError, TypeError):
            return None


@lru_cache(maxsize=1024)
def _server_salt(password: str) -> bytes:
    """One salt per password for this process, as a stored verifier has one per role (the
    nonces, not the salt, make each exchange unique)."""
    return os.urandom(16)


class ScramServer:
    """One server-side exchange. `cbind`: the tls-server-end-point hash of the certificate
    this connection presented (None without TLS); `plus`: the client chose the -PLUS
    mechanism."""

    def __init__(self, secret: Secret, *, cbind: bytes | None, plus: bool) -> None:
        self._secret = secret
        self.client_key: bytes | None = None  # set once the client proved it
        self._cbind = cbind
        self._plus = plus
        self._nonce = ""
        self._header = ""
        self._first = ""
        self._bare = ""

    def first(self, client_first: str) -> str:
        flag = client_first[:1]
        parts = client_first.split(",", 2)
        if len(parts) != 3:
            raise ScramError("malformed client-first message")
        if flag == "p":
            if not self._plus or self._cbind is None or parts[0] != "p=tls-server-end-point":
                raise ScramError("unsupported channel binding")
        elif flag == "y":
            if self._cbind is not None:
                raise ScramError("channel binding downgrade (client chose not to bind)")
        elif flag != "n" or self._plus:
            raise ScramError("SCRAM-SHA-256-PLUS needs channel binding")
        self._header = f"{parts[0]},{parts[1]},"
        self._bare = parts[2]
        client_nonce = _attrs(self._bare).get("r", "")
        if not client_nonce:
            raise ScramError("missing client nonce")
        secret = self._secret
        self._nonce = client_nonce + _b64(os.urandom(18))
        self._first = f"r={self._nonce},s={_b64(secret.salt)},i={secret.iterations}"
        return self._first

    def final(self, client_final: str) -> str:
        head, sep, proof_b64 = client_final.rpartition(",p=")
        attrs = _attrs(head)
        if not sep or attrs.get("r") != self._nonce:
            raise ScramError("malformed client-final message")
        bound = self._header.startswith("p") and self._cbind is not None
        binding = self._header.encode() + (self._cbind if bound and self._cbind else b"")
        if attrs.get("c") != _b64(binding):
            raise ScramError("channel binding does not match")
        auth = f"{self._bare},{self._first},{head}"
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError as exc:
            raise ScramError("malformed proof") from exc
        signature = _sign(self._secret.stored_key, auth)
        if len(proof) != len(signature):
            raise ScramError("malformed proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self._secret.stored_key):
            raise ScramError("wrong password")
        self.client_key = client_key
        return "v=" + _b64(_sign(self._secret.server_key, auth))


class ScramClient:
    """One client-side exchange without channel binding (upstream is a unix socket), from
    the password, or from a Secret whose client_key a client proved (then the server must
    use the same verifier: same salt and iterations)."""

    def __init__(self, credential: str | Secret) -> None:
        self._credential = credential
        self._nonce = _b64(os.urandom(18))
        self._bare = f"n=,r={self._nonce}"
        self._verify = ""

    def first(self) -> str:
        return "n,," + self._bare

    def final(self, server_first: str) -> str:
        attrs = _attrs(server_first)
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s", ""), attrs.get("i", "")
        if not nonce.startswith(self._nonce) or not salt or not iterations.isdigit():
            raise ScramError("malformed server-first message")
        raw_salt = base64.b64decode(salt)
        cred = self._credential
        if isinstance(cred, str):
            client_key, stored, server_key = _keys(cred, raw_salt, int(iterations))
        elif cred.client_key is None or (cred.salt, cred.iterations) != (raw_salt,
                                                                         int(iterations)):
            raise ScramError("the server's verifier is not the one the client proved")
        else:
            client_key, stored, server_key = cred.client_key, cred.stored_key, cred.server_key
        head = f"c=biws,r={nonce}"
        auth = f"{self._bare},{server_first},{head}"
        proof = bytes(a ^ b for a, b in zip(client_key, _sign(stored, auth), strict=True))
        self._verify = "v=" + _b64(_sign(server_key, auth))
        return f"{head},p={_b64(proof)}"

    def check(self, server_final: str) -> None:
        if not hmac.compare_digest(server_final.encode(), self._verify.encode()):
            raise ScramError("server signature does not match")
