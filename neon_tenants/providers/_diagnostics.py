"""One line per failed resource in Pulumi's diagnostics, the traceback only when debugging.

Pulumi's Python dynamic-provider host (`pulumi/dynamic/__main__.py`, the process
`pulumi-resource-pulumi-python` starts) wraps every handler in `_abort_with_traceback`,
which answers the engine with `traceback.format_exc()`: every failed resource then shows a
15-line Python traceback around the one sentence that matters (issue #17). The wrapper
looks `traceback` up in that module's globals at call time, so when our provider classes
are loaded into the host (unpickled by reference: this module is imported then) we point
that one name at `_HostTraceback`, whose `format_exc()` answers one line: what failed and
what to do. `NEON_TENANTS_DEBUG=1` in the environment of `pulumi` keeps the traceback.
Nothing else in the host changes, and nothing changes outside the host process.
"""

from __future__ import annotations

import os
import sys
import traceback
from types import ModuleType
from typing import Any

DEBUG_ENV = "NEON_TENANTS_DEBUG"
HOST_MODULE = "pulumi.dynamic.__main__"


def _hint(exc: BaseException) -> str:
    """What to do about a Neon API error, by its kind."""
    from neon_tenants.client import errors as e

    if isinstance(exc, e.Unauthorized | e.Forbidden | e.MissingCredential):
        return "check the Neon API keys (NEON_CREDENTIALS_FILE or NEON_*_API_KEY)"
    if isinstance(exc, e.NotFound):
        return "the object is gone in Neon: run `pulumi refresh` and then `pulumi up`"
    if isinstance(exc, e.Locked | e.RateLimited | e.ServerError | e.DeadlineExceeded
                  | e.OperationTimeout):
        return "Neon is busy or unreachable: run the same `pulumi up` again"
    if isinstance(exc, e.AmbiguousOutcome):
        return "run `pulumi refresh`, then `pulumi up` (the object may exist already)"
    if isinstance(exc, e.OperationFailed):
        return "see the Neon operation above; fix the input, then `pulumi up` again"
    return "fix the input named above, then `pulumi up` again"


def one_line(exc: BaseException) -> str:
    """`exc` as one line for a person: the sentence, and what to do (no secret in it)."""
    from pydantic import ValidationError

    from neon_tenants.client.errors import NeonError
    from neon_tenants.providers._base import ProviderError

    text = " ".join(str(exc).split())
    if isinstance(exc, ProviderError):
        line = text
    elif isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(inputs)'}: {e['msg']}"
                           for e in exc.errors())
        line = f"invalid inputs: {fields}; fix the fleet file or the program's arguments"
    elif isinstance(exc, NeonError):
        line = f"Neon API: {text}; {_hint(exc)}"
    else:
        line = (f"{type(exc).__name__}: {text} (unexpected; set {DEBUG_ENV}=1 for "
                "the provider's traceback)")
    from neon_tenants.automation._errors import scrub  # masks URI passwords and keys

    return scrub(line)


class _HostTraceback:
    """Stands in for the `traceback` module inside the dynamic-provider host only."""

    def format_exc(self, limit: int | None = None, chain: bool = True) -> str:
        exc = sys.exc_info()[1]
        if exc is None or os.environ.get(DEBUG_ENV):
            return traceback.format_exc(limit, chain)
        try:
            return one_line(exc)
        except Exception:  # noqa: BLE001 - reporting must never hide the original error
            return traceback.format_exc(limit, chain)

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)


def install(modules: dict[str, ModuleType] | None = None) -> bool:
    """Shorten the host's error replies; True when this process is the provider host."""
    main = (sys.modules if modules is None else modules).get("__main__")
    spec = getattr(main, "__spec__", None)
    if main is None or spec is None or spec.name != HOST_MODULE:
        return False
    if getattr(main, "traceback", None) is traceback:
        main.traceback = _HostTraceback()  # type: ignore[attr-defined]
    return isinstance(getattr(main, "traceback", None), _HostTraceback)
