"""Component wiring under `pulumi.runtime.set_mocks`: names, types, parents, inputs, secrets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from neon_tenants.catalog import builtin_catalog
from neon_tenants.providers import DevBranchSpec, SnapshotSpec, TenantDatabase, TenantDatabaseArgs


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources[args.name] = args
        outs = dict(args.inputs)
        if args.typ.endswith("NeonTenantProject"):
            outs.update(project_id="p-1", org_id="org-1", default_branch_id="br-main",
                        host="h", connection_uri="postgresql://u:pw@h/db",
                        pooled_connection_uri="postgresql://u:pw@h-pooler/db")
        if args.typ.endswith("DevBranch"):
            outs.update(branch_id=f"br-{outs['name']}")
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


@pytest.fixture
def mocks() -> Iterator[Recorder]:
    # Earlier tests in the same session (asyncio.run, the Automation API) leave the main
    # thread without a current event loop; pulumi.runtime.test needs one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    rec = Recorder()
    pulumi.runtime.set_mocks(rec, preview=False)
    yield rec
    asyncio.set_event_loop(None)
    loop.close()


@pulumi.runtime.test
def test_component_wires_children(mocks: Recorder) -> Any:
    args = TenantDatabaseArgs(
        tenant_id="acme", tier=builtin_catalog().tier("pro"),
        dev_branches=[DevBranchSpec(name="dev"), DevBranchSpec(name="feat", parent="dev")],
        snapshots=[SnapshotSpec(name="v1", pinned=True)],
    )
    db = TenantDatabase("acme", args)

    def check(_: Any) -> None:
        r = mocks.resources
        assert set(r) == {"acme", "acme-project", "acme-branch-dev",
                          "acme-branch-feat", "acme-snapshot-v1"}
        assert r["acme"].typ == "neon-tenants:index:TenantDatabase"
        assert r["acme-project"].typ == "pulumi-python:dynamic/neon:NeonTenantProject"
        assert r["acme-project"].inputs["name"] == "nt-acme"
        assert r["acme-project"].inputs["org"] == "paid"
        p = r["acme-project"].inputs
        assert p["active_time_seconds"] == 2700000  # the quota travels with the project
        assert (p["min_cu"], p["max_cu"]) == (0.25, 2)
        assert p["first_attempt"] is False
        assert r["acme-branch-dev"].inputs["parent_branch_id"] == "br-main"
        assert r["acme-branch-feat"].inputs["parent_branch_id"] == "br-dev"
        s = r["acme-snapshot-v1"].inputs
        assert s["policy"] == "evict_oldest" and s["pinned_names"] == ["v1"]
        assert "__provider" in r["acme-project"].inputs

    return pulumi.Output.all(db.project.project_id, db.dev_branches["feat"].branch_id,
                             db.snapshots["v1"].snapshot_id).apply(check)


@pulumi.runtime.test
def test_component_connection_uri_is_secret(mocks: Recorder) -> Any:
    db = TenantDatabase("acme", TenantDatabaseArgs(tenant_id="acme",
                                                   tier=builtin_catalog().tier("free")))
    # the resources' own outputs are made secret by the engine (additional_secret_outputs),
    # which the mock monitor does not emulate: the engine tests grep the state for those
    outs = (db.connection_uri, db.pooled_connection_uri)  # type: ignore[attr-defined]

    async def all_secret() -> bool:
        return all([await o.is_secret() for o in outs])

    return pulumi.Output.from_input(all_secret()).apply(_assert_true)


def _assert_true(value: bool) -> None:
    assert value is True
