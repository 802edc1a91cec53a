"""Contract: schemathesis (v4) fuzzes every implemented spec operation against the in-process
ASGI app and checks status codes, content types and response bodies against the real spec.

Derandomized with a bounded number of examples so it is reliable and runs in about a minute.
Half of the generated path ids are swapped for real ones (project, branch, endpoint, org), so
success bodies are checked too, not only 404 GeneralErrors.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import anyio
import httpx
import pytest
from _defaults_walk import response_schema, walk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neon_emulator.app import API_ROUTERS, create_app
from neon_emulator.runtime import Runtime
from neon_emulator.settings import EmulatorSettings, RateLimitConfig
from neon_emulator.spec import load_spec

MAX_EXAMPLES = 25
SKIP_REAL_IDS = {"DELETE"}  # keep the shared fixture project alive across examples


def _mounted() -> set[tuple[str, str]]:
    return {(m, "/api/v2" + route.path) for r in API_ROUTERS for route in r.routes
            for m in route.methods}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def app_and_ids(tmp_path_factory: pytest.TempPathFactory):
    data_dir: Path = tmp_path_factory.mktemp("st")
    cfg = EmulatorSettings(data_dir=data_dir, compute="metadata", op_duration_ms=0,
                           rate_limits=RateLimitConfig(enabled=False))
    rt = Runtime(cfg)
    app = create_app(cfg, rt)
    creds = json.loads(cfg.credentials_file.read_text())
    key = creds["orgs"]["paid"]["api_key"]

    async def seed() -> dict:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emu") as c:
            r = await c.post("/api/v2/projects", json={"project": {"name": "fuzz"}},
                             headers={"Authorization": f"Bearer {key}"})
            return r.json()

    body = anyio.run(seed)
    rt.runner.idle()
    ids = {"project_id": body["project"]["id"], "branch_id": body["branch"]["id"],
           "endpoint_id": body["endpoints"][0]["id"], "org_id": creds["orgs"]["paid"]["id"],
           "source_org_id": creds["orgs"]["paid"]["id"], "database_name": "neondb",
           "role_name": "neondb_owner"}
    yield app, key, ids, rt
    rt.runner.shutdown()


def _operations():
    import schemathesis

    schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec()))
    mounted = _mounted()
    ops = []
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.full_path) in mounted:
            ops.append(op)
    return schema, ops


SCHEMA, OPERATIONS = _operations()


def neon_defaults_present(ctx, response, case):
    """Every 2xx body carries what Neon always returns (issue #15; _defaults_walk.py)."""
    if not 200 <= response.status_code < 300 or not response.content:
        return None
    path = case.operation.path
    schema = response_schema(case.method, path, response.status_code)
    if schema is None:
        return None
    missing: list[str] = []
    walk(schema, response.json(), f"{case.method} {path}", missing, set())
    if missing:
        raise AssertionError(f"missing Neon defaults: {missing}")
    return None


def _register_check():
    import schemathesis

    return schemathesis.check(neon_defaults_present)


NEON_DEFAULTS = _register_check()


def test_contract_schemathesis_covers_every_mounted_route():
    covered = {(op.method.upper(), op.full_path) for op in OPERATIONS}
    assert covered == _mounted()


@pytest.mark.slow
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_contract_schemathesis(operation, app_and_ids):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    app, key, ids, rt = app_and_ids
    SCHEMA.app = app
    operation.schema.app = app
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, NEON_DEFAULTS]

    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), real=st.booleans())
    def run(case, real):
        if real and operation.method.upper() not in SKIP_REAL_IDS and case.path_parameters:
            for name in case.path_parameters:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=checks,
                               app=app)

    run()
