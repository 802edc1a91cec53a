"""Neon-shaped identifiers (CONTRACT.md: `^[a-z0-9-]{1,60}$`, `br-`, `ep-`, uuid operations)."""

from __future__ import annotations

import secrets
import string
import uuid

_ADJ = ("still", "young", "round", "long", "quiet", "bold", "calm", "dry", "wild", "cold",
        "fancy", "late", "odd", "shy", "small", "snowy", "sweet", "tiny", "white", "wispy")
_NOUN = ("meadow", "frog", "leaf", "river", "forest", "cloud", "sea", "hill", "lake", "moon",
         "star", "field", "rain", "wave", "tree", "bird", "fire", "dust", "pond", "sun")
_ALNUM = string.ascii_lowercase + string.digits


def _words() -> str:
    return f"{secrets.choice(_ADJ)}-{secrets.choice(_NOUN)}"


def project_id() -> str:
    return f"{_words()}-{secrets.randbelow(90_000_000) + 10_000_000}"


def _suffix(n: int = 8) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def branch_id() -> str:
    return f"br-{_words()}-{_suffix()}"


def endpoint_id() -> str:
    return f"ep-{_words()}-{_suffix()}"


def snapshot_id() -> str:
    return f"snap-{_words()}-{_suffix()}"


def org_id() -> str:
    return f"org-{_words()}-{_suffix()}"


def uuid4() -> str:
    return str(uuid.uuid4())


def api_key() -> str:
    """Opaque bearer token; 64 lowercase alphanumerics like Neon's keys."""
    return "".join(secrets.choice(_ALNUM) for _ in range(64))


def password() -> str:
    return "npg_" + "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(12)
    )
