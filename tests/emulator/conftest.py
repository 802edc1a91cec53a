"""Emulator test fixtures: one metadata-backed emulator per session, reset per test, and
clients that validate EVERY /api/v2 response against Neon's OpenAPI spec (contract)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from neon_emulator.testing import EmulatorProcess

FAST_CONFIG: dict[str, Any] = {
    "compute": "metadata",
    "op_duration_ms": 20,
    "rate_limits": {"enabled": False},
    "expiry_check_seconds": 3600,
}
TERMINAL = {"finished", "skipped", "cancelled", "error", "failed"}


class SpecValidator:
    """openapi-core over the real spec; the request is presented under Neon's server URL."""

    def __init__(self) -> None:
        from jsonschema_path import SchemaPath
        from openapi_core import Config, OpenAPI

        from neon_emulator.spec import load_spec

        self.openapi = OpenAPI(SchemaPath.from_dict(load_spec()),
                               config=Config(spec_validator_cls=None))
        self.checked = 0

    def validate(self, response: httpx.Response) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        req = response.request
        path = req.url.path
        if not path.startswith("/api/v2"):
            return

        class _Req:
            host_url = "https://console.neon.tech"
            full_url_pattern = host_url + path
            method = req.method.lower()
            parameters = RequestParameters(
                path={}, query=ImmutableMultiDict(list(req.url.params.multi_items())),
                header=Headers(), cookie=ImmutableMultiDict())
            content_type = "application/json"
            body = req.content or None

        _Req.path = path  # type: ignore[attr-defined]

        class _Resp:
            status_code = response.status_code
            content_type = (response.headers.get("content-type") or "application/json"
                            ).split(";")[0]
            headers = Headers(dict(response.headers))
            data = response.content

        self.openapi.validate_response(_Req(), _Resp())
        self.checked += 1


@pytest.fixture(scope="session")
def spec_validator() -> SpecValidator:
    return SpecValidator()


@pytest.fixture(scope="session")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(tmp_path_factory.mktemp("emu"), config=FAST_CONFIG) as proc:
        yield proc


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> None:
    """Each test starts from the default world (if it uses the shared emulator)."""
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").admin("POST", "reset")


class Api(httpx.Client):
    """An httpx client bound to one key; every response is checked against the spec."""

    def __init__(self, base_url: str, key: str, validator: SpecValidator) -> None:
        super().__init__(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                         timeout=30.0, event_hooks={"response": [self._check]})
        self.validator = validator

    def _check(self, response: httpx.Response) -> None:
        response.read()
        self.validator.validate(response)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def wait(self, project_id: str, ops: list[dict[str, Any]], timeout: float = 30) -> list[
            dict[str, Any]]:
        """Poll operations to a terminal status, as a Neon client must."""
        deadline = time.monotonic() + timeout
        out = []
        for op in ops:
            while True:
                cur = self.ok("GET", f"/projects/{project_id}/operations/{op['id']}")[
                    "operation"]
                if cur["status"] in TERMINAL:
                    out.append(cur)
                    break
                assert time.monotonic() < deadline, f"operation {op['id']} did not finish"
                time.sleep(0.01)
        return out

    def create_project(self, **project: Any) -> dict[str, Any]:
        body = self.ok("POST", "/projects", 201, json={"project": project})
        self.wait(body["project"]["id"], body["operations"])
        return body


ClientFactory = Callable[[str], Api]


@pytest.fixture
def open_api(spec_validator: SpecValidator) -> Iterator[Callable[[str, str], Api]]:
    """Validated clients by (base URL, key); every one is closed at teardown."""
    made: list[Api] = []

    def make(base_url: str, key: str) -> Api:
        c = Api(base_url, key, spec_validator)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client_for(emu: EmulatorProcess, open_api: Callable[[str, str], Api]) -> ClientFactory:
    return lambda key: open_api(emu.base_url, key)


@pytest.fixture
def api_factory(open_api: Callable[[str, str], Api]) -> Callable[[EmulatorProcess, str], Api]:
    """Validated clients for emulators a test starts itself (org alias -> that org's key)."""

    def make(proc: EmulatorProcess, alias: str = "free") -> Api:
        return open_api(proc.base_url, proc.credentials["orgs"][alias]["api_key"])

    return make


@pytest.fixture
def free(emu: EmulatorProcess, client_for: ClientFactory) -> Api:
    return client_for(emu.credentials["orgs"]["free"]["api_key"])


@pytest.fixture
def paid(emu: EmulatorProcess, client_for: ClientFactory) -> Api:
    return client_for(emu.credentials["orgs"]["paid"]["api_key"])


@pytest.fixture
def personal(emu: EmulatorProcess, client_for: ClientFactory) -> Api:
    return client_for(emu.credentials["personal_api_key"])


@pytest.fixture
def org_ids(emu: EmulatorProcess) -> dict[str, str]:
    return {alias: o["id"] for alias, o in emu.credentials["orgs"].items()}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "emu"
