"""Request dependencies: the runtime, the caller (from the bearer key) and the gate.

The gate runs before every /api/v2 handler: it counts the request per route (for
`GET /_emulator/state`), applies fault rules and the rate limits, in that order.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from neon_emulator.errors import ApiError
from neon_emulator.runtime import Runtime
from neon_emulator.store.state import Caller
from neon_emulator.validation import check_body

API_PREFIX = "/api/v2"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    return str(path)[len(API_PREFIX):] if str(path).startswith(API_PREFIX) else str(path)


def gate(request: Request, rt: RuntimeDep) -> None:
    template = route_template(request)
    rt.count(f"{request.method} {template}")
    decision = rt.faults.decide(request.method, template)
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000.0)
    if decision.drop_after_act:
        request.state.drop_after_act = True
    if decision.status is not None:
        raise ApiError(decision.status, "injected fault", code="INJECTED_FAULT")
    token = _token(request) or "anonymous"
    key = rt.store.key_by_token(token)
    account = f"key:{key.id}" if key is not None else "anonymous"
    hit = rt.ratelimiter.allow(account, f"{request.method} {template}")
    if hit is not None:
        raise ApiError(429, f"too many requests: {hit}", code="TOO_MANY_REQUESTS")


async def body_gate(request: Request) -> None:
    """Runs after `gate`: the JSON body must match the spec's schema for this operation."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        check_body(request.method, route_template(request), await request.body())


def get_caller(request: Request, rt: RuntimeDep) -> Caller:
    token = _token(request)
    if token is None:
        raise ApiError(401, "authorization header with a bearer API key is required",
                       code="UNAUTHORIZED")
    key = rt.store.key_by_token(token)
    if key is None:
        raise ApiError(401, "unknown or revoked API key", code="UNAUTHORIZED")
    return rt.store.caller_for(key)


CallerDep = Annotated[Caller, Depends(get_caller)]
