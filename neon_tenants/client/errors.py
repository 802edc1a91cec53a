"""The client's error tree (ARCHITECTURE.md "Errors").

```
NeonError
 +-- MissingCredential          no key configured for the call (raised before any request)
 +-- AmbiguousOutcome           a non-idempotent request may have been applied; reconcile
 +-- DeadlineExceeded           retries ran out of total time
 +-- OperationTimeout           operations[] did not reach a terminal state in time
 +-- OperationFailed            an operation ended in `error` (or stayed `failed`)
 +-- NeonAPIError(status, code, message, request_id)
      +-- BadRequest (400), Unauthorized (401), Forbidden (403), NotFound (404),
      +-- NotAcceptable (406), Conflict (409), PreconditionFailed (412),
      +-- Unprocessable (422), Locked (423), RateLimited (429), ServerError (5xx)
      +-- TransferLimitsNotMet (406 on org transfer), TransferIntegrationsBlocked (422)
```
No message built here ever includes a key, password or URI with a password: callers pass
only ids, codes and the server's own `message` (which Neon does not fill with secrets).
"""

from __future__ import annotations

from typing import Any


class NeonError(Exception):
    """Base of every error this client raises."""


class MissingCredential(NeonError):
    """The call needs a key that is not configured; raised before any request is sent."""

    def __init__(self, which: str, hint: str = "") -> None:
        self.which = which
        text = f"missing Neon credential: {which}"
        super().__init__(f"{text} ({hint})" if hint else text)


class AmbiguousOutcome(NeonError):
    """A non-idempotent request was sent and the reply was lost: the server may have acted.

    Retrying blindly could create a duplicate; reconcile by looking the object up instead.
    """

    def __init__(self, method: str, route: str, request_id: str, cause: str) -> None:
        self.method = method
        self.route = route
        self.request_id = request_id
        self.cause = cause
        super().__init__(
            f"{method} {route} may or may not have been applied ({cause}); request_id={request_id}"
        )


class DeadlineExceeded(NeonError):
    """Retries did not succeed within the client's total deadline."""

    def __init__(self, method: str, route: str, deadline: float, last_error: str) -> None:
        self.method = method
        self.route = route
        self.deadline = deadline
        self.last_error = last_error
        super().__init__(
            f"{method} {route}: gave up after the {deadline:g}s deadline; last error: {last_error}"
        )


class OperationTimeout(NeonError):
    """Operations were still running when the wait timed out."""

    def __init__(self, project_id: str, pending: list[tuple[str, str, str]], timeout: float):
        self.project_id = project_id
        self.pending = pending
        self.timeout = timeout
        names = ", ".join(f"{op_id} ({action}: {status})" for op_id, action, status in pending)
        super().__init__(f"project {project_id}: operations not done after {timeout:g}s: {names}")


class OperationFailed(NeonError):
    """An operation of a mutation ended in failure; names the operation id and its action."""

    def __init__(self, operation_id: str, action: str, status: str, error: str | None) -> None:
        self.operation_id = operation_id
        self.action = action
        self.status = status
        self.error = error
        super().__init__(
            f"operation {operation_id} ({action}) ended with status {status}: "
            f"{error or 'no detail'}"
        )


class NeonAPIError(NeonError):
    """A non-2xx reply from the API, carrying the `GeneralError` fields."""

    def __init__(
        self,
        status: int,
        code: str = "",
        message: str = "",
        request_id: str = "",
        body: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body
        super().__init__(
            f"HTTP {status} code={code or '-'} request_id={request_id or '-'}: {message}"
        )


class BadRequest(NeonAPIError):
    """400."""


class Unauthorized(NeonAPIError):
    """401: the key is wrong or revoked (project-scoped keys die on transfer)."""


class Forbidden(NeonAPIError):
    """403: e.g. an org key used where a personal key is required."""


class NotFound(NeonAPIError):
    """404."""


class NotAcceptable(NeonAPIError):
    """406."""


class Conflict(NeonAPIError):
    """409."""


class PreconditionFailed(NeonAPIError):
    """412: e.g. reveal_password on a project with store_passwords=false."""


class Unprocessable(NeonAPIError):
    """422."""


class Locked(NeonAPIError):
    """423: locked by a running operation; retried automatically until the deadline."""


class RateLimited(NeonAPIError):
    """429: over Neon's rate limit; retried automatically until the deadline."""


class ServerError(NeonAPIError):
    """5xx."""


class TransferLimitsNotMet(NeonAPIError):
    """406 on org transfer: the destination's limits are not met (`limits[]`)."""

    def __init__(self, limits: list[dict[str, Any]], request_id: str = "") -> None:
        self.limits = limits
        names = ", ".join(str(item.get("name")) for item in limits) or "unknown"
        super().__init__(406, "transfer_limits_not_met", f"limits not met: {names}", request_id)


class TransferIntegrationsBlocked(NeonAPIError):
    """422 on org transfer: projects with GitHub/Vercel integrations cannot move."""

    def __init__(self, projects: list[dict[str, Any]], request_id: str = "") -> None:
        self.projects = projects
        ids = ", ".join(str(item.get("id")) for item in projects) or "unknown"
        super().__init__(
            422, "transfer_integrations_blocked", f"projects with integrations: {ids}", request_id
        )


_BY_STATUS: dict[int, type[NeonAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    406: NotAcceptable,
    409: Conflict,
    412: PreconditionFailed,
    422: Unprocessable,
    423: Locked,
    429: RateLimited,
}


def error_class_for(status: int) -> type[NeonAPIError]:
    """Map an HTTP status to the most specific error class."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, NeonAPIError)


__all__ = [
    "AmbiguousOutcome",
    "BadRequest",
    "Conflict",
    "DeadlineExceeded",
    "Forbidden",
    "Locked",
    "MissingCredential",
    "NeonAPIError",
    "NeonError",
    "NotAcceptable",
    "NotFound",
    "OperationFailed",
    "OperationTimeout",
    "PreconditionFailed",
    "RateLimited",
    "ServerError",
    "TransferIntegrationsBlocked",
    "TransferLimitsNotMet",
    "Unauthorized",
    "Unprocessable",
    "error_class_for",
]
