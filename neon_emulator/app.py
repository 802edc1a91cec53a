"""create_app(settings): the FastAPI app with the /api/v2 routers, the developer API and
the one GeneralError handler."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neon_emulator.deps import API_PREFIX, body_gate, gate
from neon_emulator.errors import install_handlers
from neon_emulator.routes import (
    admin,
    branches,
    consumption,
    endpoints,
    neon_auth,
    operations,
    organizations,
    projects,
    roles_databases,
    snapshots,
    usage_admin,
    users,
)
from neon_emulator.runtime import Runtime
from neon_emulator.settings import EmulatorSettings

API_ROUTERS = (
    projects.router, operations.router, branches.router, roles_databases.router,
    endpoints.router, snapshots.router, organizations.router, users.router,
    consumption.router, neon_auth.router,
)


class DroppedConnection(Exception):
    """Raised after the handler acted, so the server closes the connection mid-response."""


class DropAfterAct:
    """ASGI middleware for the 'act, then drop the connection' fault (engine/faults.py).

    The gate flags the request; the handler runs to completion (the mutation happens); then
    only the response head is sent and the connection is torn down, so the client cannot
    tell whether the request succeeded: an ambiguous outcome.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def guarded(message: Message) -> None:
            if state.get("drop_after_act"):
                if message["type"] == "http.response.start":
                    await send(message)
                    raise DroppedConnection("connection dropped by fault injection")
                return
            await send(message)

        await self.app(scope, receive, guarded)


def create_app(settings: EmulatorSettings, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime if runtime is not None else Runtime(settings)
    app = FastAPI(title="neon-emulator", version="2", openapi_url=None, docs_url=None,
                  redoc_url=None)
    app.state.runtime = rt
    install_handlers(app)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(gate), Depends(body_gate)])
    for r in API_ROUTERS:
        api.include_router(r)
    app.include_router(api)
    app.include_router(admin.router)
    app.include_router(usage_admin.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(DropAfterAct)
    return app
