"""The rule `set_fleet_revision` applies inside its fleet edit (issue 12: a tenant migrates only
after a checkpoint, i.e. through `rollout`), on plain fleet specs: which edits it lets through."""

from __future__ import annotations

import pytest

from neon_tenants.automation import InvalidRequest
from neon_tenants.automation._fleet_settings import check_no_unchecked_migration
from neon_tenants.fleet.spec import FleetSpec, TenantSpec

CMD = "psql -f m.sql"


def _fleet(*tenants: TenantSpec, revision: str | None = "r1",
           command: str | None = CMD) -> FleetSpec:
    return FleetSpec(tier="free", tenants=tenants, app_revision=revision,
                     migration_command=command)


@pytest.mark.parametrize(("before", "update"), [
    (_fleet(), {"app_revision": "r2"}),  # no tenants
    (_fleet(TenantSpec(id="t-a"), command=None), {"app_revision": "r2"}),  # no command
    (_fleet(TenantSpec(id="t-a", app_revision="r1")), {"app_revision": "r2"}),  # all pinned
    (_fleet(TenantSpec(id="t-a")), {"migration_command": "psql -f other.sql"}),  # command only
    (_fleet(TenantSpec(id="t-a")), {"app_revision": "r1"}),  # same revision
])
def test_edits_that_migrate_nobody_pass(before: FleetSpec, update: dict[str, str]) -> None:
    check_no_unchecked_migration(before, before.model_copy(update=update))


@pytest.mark.parametrize(("before", "update"), [
    (_fleet(TenantSpec(id="t-a")), {"app_revision": "r2"}),
    # the first revision with a command set in the same call
    (_fleet(TenantSpec(id="t-a"), revision=None, command=None),
     {"app_revision": "r1", "migration_command": CMD}),
    # a tenant's own command is in force even when the fleet has none
    (_fleet(TenantSpec(id="t-a", migration_command=CMD), command=None), {"app_revision": "r2"}),
])
def test_a_revision_that_would_migrate_a_tenant_is_refused(
    before: FleetSpec, update: dict[str, str]
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_no_unchecked_migration(before, before.model_copy(update=update))
    text = str(refused.value)
    assert refused.value.http_status == 422 and text.startswith("app_revision:")
    assert "tier free" in text and "t-a" in text and "rollout --tier free" in text


@pytest.mark.parametrize(("before", "update"), [
    # the fleet's first command while its tenants already have a revision
    (_fleet(TenantSpec(id="t-a"), command=None), {"migration_command": CMD}),
    # a tenant pinned to a revision of its own, the fleet has none
    (_fleet(TenantSpec(id="t-a", app_revision="r1"), revision=None, command=None),
     {"migration_command": CMD}),
])
def test_a_first_command_that_would_run_without_a_checkpoint_is_refused(
    before: FleetSpec, update: dict[str, str]
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_no_unchecked_migration(before, before.model_copy(update=update))
    text = str(refused.value)
    assert refused.value.http_status == 422 and text.startswith("migration_command:")
    assert "tier free" in text and "t-a" in text and "--migration-command" in text


def test_a_first_command_for_tenants_with_no_revision_passes() -> None:
    before = _fleet(TenantSpec(id="t-a"), revision=None, command=None)
    check_no_unchecked_migration(before, before.model_copy(update={"migration_command": CMD}))
