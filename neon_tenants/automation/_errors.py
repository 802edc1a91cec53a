"""Domain errors of `FleetManager`, and the one place engine/client errors are translated.

A platform backend maps these to HTTP statuses once (`.http_status`), instead of repeating a
mapping per handler as the automation-api examples do (STYLE.md section 4). Messages never
carry an API key, a password or a URI with a password: engine output is scrubbed first.
"""

from __future__ import annotations

import re
from typing import Any

_URI_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]+):[^@\s]+@")
_BEARER = re.compile(r"(?i)(bearer\s+|api[_-]?key[\"'=:\s]+)[A-Za-z0-9._\-]{8,}")


def scrub(text: str) -> str:
    """Mask passwords in connection URIs and anything that looks like a bearer key."""
    text = _URI_PASSWORD.sub(r"\1:****@", text)
    return _BEARER.sub(r"\1****", text)


def _tail(text: str, lines: int = 12) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return scrub("\n".join(kept[-lines:]))


class FleetError(Exception):
    """Base of every error FleetManager raises; `http_status` is what a backend returns."""

    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(scrub(message))
        self.details = details


class InvalidRequest(FleetError):
    """Bad input: unknown tier, malformed tenant id, same tier for an upgrade."""

    http_status = 422


class TenantNotFound(FleetError):
    http_status = 404


class TenantConflict(FleetError):
    """The tenant exists in another tier (provision) or is already where asked."""

    http_status = 409


class OperationInProgress(FleetError):
    """A tier-wide operation (a rollout) while another one of that tier is unfinished."""

    http_status = 409


class LimitsExceeded(FleetError):
    """A downgrade refused before any change: usage does not fit the target tier.

    `details["violations"]` is a list of {name, actual, limit}.
    """

    http_status = 409


class TransferBlocked(FleetError):
    """Neon refused a transfer (422: projects with GitHub/Vercel integrations);
    `details["projects"]` names them (and their tenants)."""

    http_status = 422


class ShardBusy(FleetError):
    """Another update kept the shard locked through every retry; safe to retry later."""

    http_status = 503


class StackNotFound(FleetError):
    http_status = 404


class EngineUnavailable(FleetError):
    """The pulumi CLI / plugins are missing; `neon-tenants doctor` says what to run."""

    http_status = 503


class DeploymentFailed(FleetError):
    """The engine ran but a resource operation failed (message: the tail of its output)."""

    http_status = 502


class ArchiveFailed(FleetError):
    """Archive before delete failed: the project was NOT deleted (the message says why)."""

    http_status = 502


class WaitTimeout(FleetError):
    """The tenant was not ready in time; its request stays queued (poll `status`)."""

    http_status = 504


class NeonUnavailable(FleetError):
    """An imperative Neon call (restore, usage read) failed."""

    http_status = 502


def translate(exc: BaseException, *, stack: str | None = None) -> FleetError:
    """pulumi.automation / client errors -> the domain tree (already-domain errors pass)."""
    if isinstance(exc, FleetError):
        return exc
    from pulumi.automation import errors as auto

    where = f" on stack {stack}" if stack else ""
    if isinstance(exc, auto.ConcurrentUpdateError):
        return ShardBusy(f"another update is running{where}; retry later", stack=stack)
    if isinstance(exc, auto.StackNotFoundError):
        return StackNotFound(f"stack not found{where}", stack=stack)
    if isinstance(exc, auto.CommandError):
        text = str(exc)
        if "executable file not found" in text or "no such file or directory" in text.lower():
            if "pulumi" in text:
                return EngineUnavailable(
                    f"the pulumi engine is not usable{where}: run `neon-tenants doctor`\n"
                    + _tail(text, 4),
                    stack=stack,
                )
        return DeploymentFailed(f"deployment failed{where}:\n{_tail(text)}", stack=stack)
    from neon_tenants._env import SharedBackendSecrets

    if isinstance(exc, SharedBackendSecrets):
        return EngineUnavailable(str(exc), stack=stack)
    if isinstance(exc, FileNotFoundError) and "pulumi" in str(exc):
        return EngineUnavailable(
            f"the pulumi CLI was not found{where}: run `neon-tenants doctor`", stack=stack
        )
    try:
        from neon_tenants.client import errors as neon
    except ImportError:  # pragma: no cover - client package missing
        neon = None  # type: ignore[assignment]
    if neon is not None and isinstance(exc, neon.TransferLimitsNotMet):
        found = [
            {"name": str(x.get("name")), "actual": x.get("actual"), "limit": x.get("expected")}
            for x in exc.limits
        ]
        return LimitsExceeded(
            f"the target organization refused the transfer: {exc}", violations=found
        )
    if neon is not None and isinstance(exc, neon.TransferIntegrationsBlocked):
        ids = [str(p.get("id")) for p in exc.projects]
        return TransferBlocked(
            f"projects with integrations cannot be transferred: {', '.join(ids)}; remove the "
            "GitHub/Vercel integration first", projects=ids,
        )
    if neon is not None and isinstance(exc, neon.NeonError):
        if isinstance(exc, getattr(neon, "NotFound", ())):
            return TenantNotFound(f"Neon says not found: {exc}")
        return NeonUnavailable(f"Neon call failed: {type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError):
        return InvalidRequest(str(exc))
    return FleetError(f"{type(exc).__name__}: {exc}")
