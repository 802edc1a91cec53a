"""Every request body checked against the spec's own requestBody schema before a handler runs.

The pydantic models in routes/_inputs.py are what handlers read; they were written by hand
and let malformed nested values through (issue #15: objects inside
`settings.preload_libraries.enabled_libraries` were stored and echoed back). The spec is the
contract, so the gate validates the raw JSON with an OpenAPI 3.0 validator (types, enums,
patterns, array item types, bounds, `nullable`) and answers a GeneralError 400 that names the
field, before anything is read or stored.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from neon_emulator.errors import bad_request
from neon_emulator.spec import load_spec

_JSON = "application/json"


@cache
def _validator(method: str, path: str) -> OAS30Validator | None:
    """The validator for one operation's JSON body, or None when it declares none."""
    spec = load_spec()
    op = spec["paths"].get(path, {}).get(method.lower())
    if not isinstance(op, dict):
        return None
    content = (op.get("requestBody") or {}).get("content") or {}
    schema = (content.get(_JSON) or {}).get("schema")
    if schema is None:
        return None
    # `#/components/...` references resolve against this root document.
    root = {**schema, "components": spec["components"]}
    return OAS30Validator(root, format_checker=oas30_format_checker)


def _where(err: ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "body"


def _message(err: ValidationError) -> str:
    """Field path plus what the spec allows, without echoing large or secret values."""
    where = _where(err)
    kw, allowed = err.validator, err.validator_value
    if kw == "enum":
        return f"{where}: must be one of {', '.join(map(str, allowed))}"
    if kw == "type":
        return f"{where}: must be of type {allowed}"
    if kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where}: {kw} is {allowed}"
    if kw in ("minLength", "maxLength", "minItems", "maxItems"):
        return f"{where}: {kw} is {allowed}"
    if kw == "pattern":
        return f"{where}: must match {allowed}"
    if kw == "required":
        return f"{where}: {err.message.split(' ')[0]} is required"
    if kw == "format":
        return f"{where}: must be a valid {allowed}"
    return f"{where}: {err.message[:200]}"


def check_body(method: str, path: str, raw: bytes) -> None:
    """Raise a 400 ApiError when `raw` is not a body the spec accepts for (method, path)."""
    validator = _validator(method, path)
    if validator is None:
        return
    spec_op = load_spec()["paths"][path][method.lower()]
    required = bool(spec_op.get("requestBody", {}).get("required"))
    if not raw.strip():
        if required:
            raise bad_request("request body is required")
        return
    try:
        body: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request("request body is not valid JSON") from exc
    err = best_match(validator.iter_errors(body))
    if err is not None:
        raise bad_request(f"invalid request: {_message(err)}")
