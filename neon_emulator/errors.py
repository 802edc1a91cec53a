"""One error type and one renderer, so every failure is a spec GeneralError.

Status choices (the spec declares only `default` for most errors): 400 malformed input,
401 missing/unknown key, 403 key not allowed, 404 not found or not visible to the key,
409 conflicts (names in use, wrong state), 412 reveal_password without stored passwords,
422 organization limits, 423 locked by a running operation, 429 rate limited.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from neon_emulator.compute.backend import ComputeError


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, *, code: str = "", body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.body = body  # replaces the GeneralError body (406 limits, 422 integrations)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found", code="NOT_FOUND")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, code="BAD_REQUEST")


def conflict(message: str) -> ApiError:
    return ApiError(409, message, code="CONFLICT")


def limit_exceeded(message: str) -> ApiError:
    return ApiError(422, message, code="LIMIT_EXCEEDED")


def locked(message: str = "project already has running conflicting operations") -> ApiError:
    return ApiError(423, message, code="LOCKED")


def request_id(request: Request) -> str:
    rid = request.headers.get("x-request-id")
    return rid if rid else str(uuid.uuid4())


def error_response(request: Request, err: ApiError) -> JSONResponse:
    rid = request_id(request)
    body = err.body if err.body is not None else {
        "code": err.code,
        "message": err.message,
        "request_id": rid,
    }
    return JSONResponse(body, status_code=err.status, headers={"X-Request-ID": rid})


def install_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for e in exc.errors()[:3]:
            loc = ".".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return error_response(request, bad_request("invalid request: " + "; ".join(parts)))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "")
        return error_response(request, ApiError(exc.status_code, str(exc.detail), code=code))

    async def on_compute(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ComputeError)
        status = exc.status if 400 <= exc.status < 600 else 500
        return error_response(request, ApiError(status, str(exc), code=exc.code))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(ComputeError, on_compute)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
