"""The one Pulumi program: a fleet shard becomes one `TenantDatabase` per tenant.

Used by `neon_tenants/__main__.py` (infra teams' `pulumi up`) and by `neon_tenants.automation`
(inline program), so both paths declare exactly the same resources and URNs.

Stack outputs: one output per tenant id holding its connection info (the whole value is a
secret because it carries the connection URI); `FleetManager` reads them back after `up`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from neon_tenants.fleet.sharding import tenants_of_shard
from neon_tenants.fleet.spec import FleetSpec, TenantSpec

if TYPE_CHECKING:
    from neon_tenants.archive import ArchiveSettings
    from neon_tenants.catalog import Catalog, OrgLimits, Tier
    from neon_tenants.migrate import MigrationSpec
    from neon_tenants.providers import TenantDatabaseArgs

OUTPUT_FIELDS = (
    "project_id", "org_id", "default_branch_id", "host", "connection_uri",
    "pooled_connection_uri", "data_api_url", "neon_auth_pub_client_key",
    "neon_auth_secret_server_key", "neon_auth_jwks_url", "dev_branches",
)


def tenant_args(
    tenant: TenantSpec,
    tier: Tier,
    platform: str,
    org_limits: OrgLimits | None = None,
    archive: ArchiveSettings | None = None,
    first_attempt: bool = False,
    migration: MigrationSpec | None = None,
) -> TenantDatabaseArgs:
    """Fleet entry + tier -> the component's validated inputs (the same tenant model)."""
    from neon_tenants.providers import TenantDatabaseArgs

    return TenantDatabaseArgs.of(tenant, tier, platform, org_limits, archive=archive,
                                 first_attempt=first_attempt, migration=migration)


def shard_args(
    tier: str,
    shard: int | None,
    fleet: FleetSpec,
    catalog: Catalog,
    archive: ArchiveSettings | None = None,
    first_attempt: frozenset[str] = frozenset(),
) -> list[tuple[str, TenantDatabaseArgs]]:
    """(tenant id, validated component args) of every tenant of the shard, in fleet order."""
    if fleet.tier != tier:
        raise ValueError(f"fleet is for tier {fleet.tier!r}, stack is for {tier!r}")
    if tier not in catalog.tiers:
        raise ValueError(f"tier {tier!r} is not in the catalog ({', '.join(catalog.tiers)})")
    tier_model = catalog.tiers[tier]
    members = tenants_of_shard(fleet, shard)
    org = catalog.orgs.get(tier_model.org)
    return [
        (t.id, tenant_args(t, tier_model, fleet.platform, org, archive, t.id in first_attempt,
                           migration_of(fleet, t)))
        for t in members
    ]


def build_program(
    tier: str,
    shard: int | None,
    fleet: FleetSpec,
    catalog: Catalog,
    archive: ArchiveSettings | None = None,
    first_attempt: frozenset[str] = frozenset(),
) -> Callable[[], None]:
    """Validate everything up front (a bad fleet fails before the engine starts).

    `archive`: where (and how) each tenant is archived before its project is deleted; None
    declares no archive step (the metadata emulator has no database to dump).
    `first_attempt`: tenants the caller added to the fleet in this very call, whose project
    create was never attempted (the provider skips its list-by-name reconcile, issue #16)."""
    all_args = shard_args(tier, shard, fleet, catalog, archive, first_attempt)
    extras = {t.id: record_of(fleet, t) for t in tenants_of_shard(fleet, shard)}

    def program() -> None:
        import pulumi

        from neon_tenants.providers import TenantDatabase

        for tenant_id, args in all_args:
            db = TenantDatabase(tenant_id, args)
            pulumi.export(tenant_id, _outputs_of(db, extras[tenant_id]))

    return program


def migration_of(fleet: FleetSpec, tenant: TenantSpec) -> MigrationSpec | None:
    """Declared when the tenant has both an app revision and a migration command."""
    from neon_tenants.migrate import MigrationSpec

    revision, command = fleet.revision_of(tenant), fleet.migration_of(tenant)
    if revision is None or command is None:
        return None
    return MigrationSpec(revision=revision, command=command)


def record_of(fleet: FleetSpec, tenant: TenantSpec) -> dict[str, Any]:
    """What the stack output carries besides the connection: the app revision and the
    compound checkpoints (so they live with the stack as well as the fleet store)."""
    return {
        "app_revision": fleet.revision_of(tenant),
        "checkpoints": [c.model_dump(mode="json") for c in tenant.checkpoints],
    }


def build_scoped_program(
    scope: list[tuple[str, TenantDatabaseArgs]], kept_outputs: Mapping[str, Any],
    extras: Mapping[str, dict[str, Any]], replaced: frozenset[str] = frozenset(),
    captured: dict[str, Any] | None = None,
) -> Callable[[], None]:
    """The program of a single-tenant run (issue #16): only the tenants in `scope` are
    declared; every other stack output is exported again as it was (`kept_outputs`, read
    from the stack just before), because the engine replaces the stack's outputs with what
    the program exports. Run it only with `--target` set to the scope's URNs
    (`providers._props.urns`): untargeted resources that the program does not declare are
    then left as they are in the state, neither read, diffed nor deleted. `extras`: each
    scoped tenant's `record_of`; `replaced`: output keys not to carry over (tenants in
    scope, or leaving the stack). `captured` receives each scoped tenant's output value once
    the engine has resolved it, so the caller needs no `stack output` process to learn it."""
    in_scope = {tenant for tenant, _ in scope} | replaced

    def program() -> None:
        import pulumi

        from neon_tenants.providers import TenantDatabase

        for key, (value, secret) in kept_outputs.items():
            if key not in in_scope:
                pulumi.export(key, pulumi.Output.secret(value) if secret else value)
        for tenant_id, args in scope:
            db = TenantDatabase(tenant_id, args)
            output = _outputs_of(db, dict(extras.get(tenant_id, {})))
            pulumi.export(tenant_id, output)
            if captured is not None:
                output.apply(partial(captured.__setitem__, tenant_id))

    return program


def _outputs_of(db: Any, extra: dict[str, Any]) -> Any:
    import pulumi

    values = {name: getattr(db, name, None) for name in OUTPUT_FIELDS}
    values.update(extra)
    values["dev_branches"] = getattr(db, "dev_branch_outputs", {})  # not the resources
    return pulumi.Output.secret(pulumi.Output.all(**values))
