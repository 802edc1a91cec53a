"""Neon's OpenAPI document: where it is, loading it, and the route-vs-spec comparison.

The spec is vendored in the repository (`spec/neon-openapi/`, a verbatim copy of the one
in `@neondatabase/api-client` 2.7.3, provenance in its README); `NEON_OPENAPI_SPEC` points
elsewhere. Response codes
are YAML integers in that file; they are normalised to strings as OpenAPI requires.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SPEC_NAME = "public-v2-for-users.gen.yaml"
METHODS = ("get", "put", "post", "patch", "delete")


def spec_path() -> Path:
    env = os.environ.get("NEON_OPENAPI_SPEC")
    candidates = [Path(env)] if env else []
    repo = Path(__file__).resolve().parent.parent
    candidates += [repo / "spec" / "neon-openapi" / SPEC_NAME,
                   repo.parent / "shared" / "neon-openapi" / SPEC_NAME]
    for c in candidates:
        if c.is_file():
            return c
    raise FileNotFoundError(f"Neon OpenAPI spec not found (tried {candidates}); "
                            "set NEON_OPENAPI_SPEC")


@lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(spec_path()) as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=loader)  # noqa: S506 - safe loader
    for item in data["paths"].values():
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict) and "responses" in op:
                op["responses"] = {str(k): v for k, v in op["responses"].items()}
    return data


def spec_operations() -> set[tuple[str, str]]:
    """(METHOD, path) for every operation in the spec, paths relative to /api/v2."""
    return {(m.upper(), path) for path, item in load_spec()["paths"].items()
            for m in METHODS if m in item}
