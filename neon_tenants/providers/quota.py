"""Quota: retired resource, kept only so that state written before issue #16 still deletes.

Quota and compute limits are fields of `NeonTenantProject` now (one resource, one PATCH).
Stacks created earlier hold a `<tenant>-quota` resource whose pickled provider refers to
`neon_tenants.providers.quota.QuotaProvider` by reference: the next `up` deletes it, which
needs this class to unpickle. Deleting it never changed Neon (the limits stay with the
project), and the project resource now owns them.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider


class QuotaProvider(ResourceProvider):
    """Delete is a no-op; read keeps the stored state. The component declares none any more;
    create only records its inputs (it never changed Neon by itself once the project did)."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props.get("project_id") or "quota"), props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
