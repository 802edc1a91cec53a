"""A tier's fleet-level app revision and migration command, set through the API (issue 12).

In fleet files an infra team edits `stacks/fleets/<tier>.yaml`; in PostgreSQL mode the
settings live in `nt_fleets.settings`, where nothing but `fleet import` reached them before.
`set_fleet_revision` is the one call for both stores: every rule runs before any write, then
ONE whole-fleet edit (`FleetCore._edit_fleet`). Fleet files: the file is rewritten and the next
`up` applies it, as after a commit. PostgreSQL: the rows of the tenants that follow the fleet
revision (no pin of their own) go `pending` in that transaction and their shards are queued for
the workers (`QueuedOps._shard_pending`).

No checkpoint is taken here, so a new revision is refused (422 on `app_revision`) while it
would migrate a tenant: a tenant that follows the fleet revision (no pin of its own) and has a
migration command in force after the edit. Issue 12: "before a tenant migrates, a checkpoint is
taken": that is `rollout`. Allowed: setting or changing the command alone (the revision is the
migration's only trigger, a new command text is an in-place no-op update), and a new or first
revision of a fleet with no such tenant (no tenants, all pinned, or no command). The rule reads
the fleet inside the edit (the fleet-file lock / the PostgreSQL transaction), so a tenant added
meanwhile cannot slip past it; a refusal writes nothing.
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


def _shown(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def check_no_unchecked_migration(before: FleetSpec, after: FleetSpec) -> None:
    """InvalidRequest (422, field `app_revision`) when `after` would migrate a tenant of
    `before` to a new revision with no checkpoint (see the module docstring); the same,
    field `migration_command`, when a FIRST command would run on tenants that already have
    a revision (its Command's create runs it once, with no checkpoint)."""
    if after.app_revision != before.app_revision:
        _no_unchecked_revision(before, after)
    starting = [t.id for t in after.tenants
                if after.revision_of(t) is not None and before.migration_of(t) is None
                and after.migration_of(t) is not None]
    if starting:
        tier, revision = after.tier, after.revision_of(after.tenants[0]) or "<revision>"
        raise InvalidRequest(
            f"migration_command: tier {tier} has {len(starting)} tenant(s) with an app revision "
            f"and no migration command ({_shown(starting)}); a first command would run on them "
            f"without a checkpoint. Use `neon-tenants rollout --tier {tier} --revision "
            f"{after.app_revision or revision} --migration-command ...` (checkpoints first), or "
            f"set the command before the fleet has tenants", tier=tier, field="migration_command",
        )


def _no_unchecked_revision(before: FleetSpec, after: FleetSpec) -> None:
    migrating = [t.id for t in after.tenants
                 if t.app_revision is None and after.migration_of(t) is not None]
    if not migrating:
        return
    tier = after.tier
    shown = _shown(migrating)
    raise InvalidRequest(
        f"app_revision: tier {tier} has {len(migrating)} tenant(s) that follow the fleet "
        f"revision and run a migration command ({shown}); a new revision would migrate them "
        f"without a checkpoint. Use `neon-tenants rollout --tier {tier} --revision "
        f"{after.app_revision}` "
        f"(FleetManager.rollout: checkpoint, canary, rollback), or set the revision while no "
        f"migration command is in force", tier=tier, field="app_revision",
    )


def set_fleet_revision(
    fm: FleetCore, tier: str, app_revision: str | None, migration_command: str | None
) -> FleetSpec:
    fm._tier(tier)  # an unknown tier names the allowed ones
    update = fleet_settings_update(tier, app_revision, migration_command)

    def edit(fleet: FleetSpec) -> FleetSpec:
        after = fleet.model_copy(update=update)
        check_no_unchecked_migration(fleet, after)
        return after

    return fm._edit_fleet(tier, edit)
