"""State written before #16 holds a `<tenant>-quota` resource: the next `up` deletes it
without touching Neon (the quota now lives on the project resource)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.engine]
QUIET = {"on_output": lambda _line: None}


def _build(holder: dict[str, Any]) -> None:
    from pulumi import dynamic

    from neon_tenants.providers.quota import QuotaProvider

    class OldQuota(dynamic.Resource, module="neon", name="Quota"):
        """The old resource's type token; its provider pickles by reference as before."""

    if holder["legacy"]:
        OldQuota(QuotaProvider(), "acme-quota", {"project_id": "p-gone", "org": "free"})


def test_old_quota_resource_is_deleted_by_the_next_up(engine_stack_factory: Any) -> None:
    holder = {"legacy": True}
    es = engine_stack_factory(_build, holder)
    es.stack.up(**QUIET)
    assert any(r["urn"].endswith("::acme-quota")
               for r in es.stack.export_stack().deployment["resources"])
    holder["legacy"] = False
    up = es.stack.up(**QUIET)
    assert up.summary.resource_changes.get("delete") == 1, up.summary.resource_changes
    assert not any(r["urn"].endswith("::acme-quota")
                   for r in es.stack.export_stack().deployment["resources"])
