"""SCRAM-SHA-256 verifiers computed here, so that no plain password travels in SQL text.

A statement that fails can be echoed into the server log or an error message; a verifier
in ``CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'`` is what PostgreSQL stores anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

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
