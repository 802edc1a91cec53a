"""A preview with an invalid input fails in `check` with its message and creates nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from neon_tenants.catalog import Limits, builtin_catalog

pytestmark = [pytest.mark.engine]

NAME = f"bad-{uuid.uuid4().hex[:6]}"


def _build(holder: dict[str, Any]) -> None:
    from neon_tenants.providers import NeonTenantProject

    cat = builtin_catalog()
    free = cat.tier("free")
    NeonTenantProject("bad-project", {
        "name": NAME, "tenant_id": "bad", "tier": "free", "org": "free",
        "history_retention_seconds": 86400, "min_cu": 0.25, "max_cu": holder["max_cu"],
        "suspend_timeout_seconds": 300,
        "limits": Limits.of(free, cat.orgs["free"]).model_dump(),
    })


def test_preview_with_cu_above_tier_fails_in_check(engine_stack_factory: Any) -> None:
    from pulumi.automation import errors

    es = engine_stack_factory(_build, {"max_cu": 4})
    with pytest.raises(errors.CommandError) as err:
        es.stack.preview(on_output=lambda _line: None)
    text = str(err.value)
    assert "max_cu" in text and "tier free" in text and "0.25-2.0 CU" in text
    with pytest.raises(errors.CommandError):
        es.stack.up(on_output=lambda _line: None)
    with es.client() as client:
        assert client.org("free").find_project_by_name(NAME) is None
