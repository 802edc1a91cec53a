"""A tier's fleet-level app revision and migration command, set through the API (issue 12).

In fleet files an infra team edits `stacks/fleets/<tier>.yaml`; in PostgreSQL mode the
settings live in `nt_fleets.settings`, where nothing but `fleet import` reached them before.
`set_fleet_revision` is the one call for both stores: every rule runs before any write, then
ONE whole-fleet edit (`FleetCore._edit_fleet`). Fleet files: the file is rewritten and the next
`up` applies it, as after a commit. PostgreSQL: the rows of the tenants that follow the fleet
revision (no pin of their own) go `pending` in that transaction and their shards are queued for
the workers (`QueuedOps._shard_pending`). Unlike `rollout`, no checkpoint is taken first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neon_tenants.automation._errors import InvalidRequest
from neon_tenants.checkpoint import check_revision

if TYPE_CHECKING:
    from neon_tenants.automation._core import FleetCore
    from neon_tenants.fleet.spec import FleetSpec


def fleet_settings_update(
    tier: str, app_revision: str | None, migration_command: str | None
) -> dict[str, str]:
    """The validated fields to write; InvalidRequest (422) names the field and the tier."""
    if app_revision is None and migration_command is None:
        raise InvalidRequest(
            f"tier {tier}: give app_revision, migration_command or both", tier=tier,
            field="app_revision",
        )
    update: dict[str, str] = {}
    if app_revision is not None:
        try:
            check_revision(app_revision)
        except ValueError as exc:
            raise InvalidRequest(f"app_revision: {exc} (tier {tier})", tier=tier,
                                 field="app_revision") from None
        update["app_revision"] = app_revision
    if migration_command is not None:
        if not migration_command.strip() or "\x00" in migration_command:
            raise InvalidRequest(
                f"migration_command: must be a non-empty command without NUL bytes, run with "
                f"`sh -c` (tier {tier})", tier=tier, field="migration_command",
            )
        update["migration_command"] = migration_command
    return update


def set_fleet_revision(
    fm: FleetCore, tier: str, app_revision: str | None, migration_command: str | None
) -> FleetSpec:
    fm._tier(tier)  # an unknown tier names the allowed ones
    update = fleet_settings_update(tier, app_revision, migration_command)
    return fm._edit_fleet(tier, lambda fleet: fleet.model_copy(update=update))
