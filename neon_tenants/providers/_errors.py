"""The providers' own refusal; `_diagnostics` prints its message as the resource's one line."""

from __future__ import annotations


class ProviderError(Exception):
    """A handler refused to act; the message says what to change (no secrets in it)."""
