"""A recording httpx transport that validates every request AND every canned response
against Neon's OpenAPI spec (openapi-core), so the client is checked against the contract.

The spec is loaded once per session (it is 430 KB and slow to parse).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec" / "neon-openapi"
SPEC_PATH = SPEC_DIR / "public-v2-for-users.gen.yaml"
SPEC_BASE = "https://console.neon.tech/api/v2"


@functools.lru_cache(maxsize=1)
def load_spec() -> OpenAPI:
    return OpenAPI.from_path(SPEC_PATH)


@functools.lru_cache(maxsize=1)
def load_spec_dict() -> dict[str, Any]:
    import yaml

    with SPEC_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class OpenAPIRequest:
    """openapi-core's Request protocol over an httpx.Request."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode()}"
        self.path = url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(url.params.multi_items())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class OpenAPIResponse:
    """openapi-core's Response protocol over status + bytes."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.data: bytes | None = response.content or None
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "") if self.data else ""


Responder = Callable[[httpx.Request, dict[str, str]], httpx.Response]


def _regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{([a-z_]+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile("^/api/v2" + pattern + "$")


class SpecTransport(httpx.BaseTransport):
    """Validate request -> find canned responder -> validate response -> return it."""

    def __init__(self, routes: dict[tuple[str, str], Responder]) -> None:
        self.spec = load_spec()
        self.routes = [(m, t, _regex(t), fn) for (m, t), fn in routes.items()]
        self.hits: list[tuple[str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        oreq = OpenAPIRequest(request)
        self.spec.validate_request(oreq)
        for method, template, regex, responder in self.routes:
            match = regex.match(request.url.path)
            if method == request.method and match:
                response = responder(request, match.groupdict())
                response.read()
                self.spec.validate_response(oreq, OpenAPIResponse(response))
                self.hits.append((method, template, response.status_code))
                return response
        raise AssertionError(f"no canned response for {request.method} {request.url.path}")
