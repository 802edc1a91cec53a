"""TenantDatabase: one tenant's project, quota, dev branches and snapshots as one component.

Logical names come from `neon_tenants.naming`: the component is `<tenant_id>`, children are
`<tenant_id>-project`, `-branch-<name>`, `-snapshot-<name>`, `-archive`, all parented to the
component (which is how their tenant is found in the state). The quota and compute limits
are fields of the project (issue #16: one resource and one PATCH instead of a second
resource with the same life cycle); stacks made before keep a `-quota` resource until their
next `up` deletes it (a no-op in Neon, see `quota.py`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from neon_tenants.archive.resource import archive_before_delete
from neon_tenants.migrate import MIGRATE_SUFFIX, migration_command
from neon_tenants.naming import COMPONENT_TYPE
from neon_tenants.providers import _props
from neon_tenants.providers.dev_branch import DevBranch
from neon_tenants.providers.snapshot import Snapshot
from neon_tenants.providers.specs import DEFAULT_BRANCH, TenantDatabaseArgs
from neon_tenants.providers.tenant_project import NeonTenantProject


class TenantDatabase(pulumi.ComponentResource):
    """Groups the resources of one tenant; outputs the ids, host and secret URIs."""

    project: NeonTenantProject
    dev_branches: dict[str, DevBranch]
    snapshots: dict[str, Snapshot]
    archive: Any
    migration: Any

    def __init__(
        self, name: str, args: TenantDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        t = name  # the program names the component by tenant id (`_props.urns` relies on it)
        self.project = NeonTenantProject(_props.project_name(t), _props.project_props(args),
                                         child)
        project = self.project
        # children take the project's resource id (== project_id): the engine keeps it known
        # at preview while the project updates in place (outputs of a dynamic resource are
        # unknown then), so a quota or tier change previews as the project's update alone
        branch_ids: dict[str, pulumi.Output[str]] = {DEFAULT_BRANCH: project.default_branch_id}
        self.dev_branches = {}
        for b in args.dev_branches:
            branch = DevBranch(_props.branch_name(t, b.name), _props.branch_props(
                args, b, project.id, branch_ids[b.parent]), child)
            self.dev_branches[b.name] = branch
            branch_ids[b.name] = branch.branch_id
        self.snapshots = {}
        for s in args.snapshots:
            self.snapshots[s.name] = Snapshot(
                _props.snapshot_name(t, s.name),
                _props.snapshot_props(args, s, project.id, branch_ids[s.branch]), child)
        self.migration = None
        if args.migration is not None:
            self.migration = migration_command(
                f"{name}{MIGRATE_SUFFIX}", tenant=args.tenant_id, spec=args.migration,
                connection_uri=project.connection_uri, parent=self,
                # after any snapshot restore of the same `up` (a rollback re-declares the
                # checkpoint's revision together with the restore)
                depends_on=[project, *self.snapshots.values()],
            )
        # last: it depends on every other child, so on delete it runs (archives) first
        self.archive = None
        if args.archive is not None:
            self.archive = archive_before_delete(
                _props.archive_name(t), tenant=args.tenant_id, tier=args.tier.name,
                project_id=project.project_id, connection_uri=project.connection_uri,
                settings=args.archive, parent=self,
                depends_on=[project, *self.dev_branches.values(),
                            *self.snapshots.values(),
                            *([self.migration] if self.migration is not None else [])],
            )
        branches = {
            n: pulumi.Output.all(
                branch_id=b.branch_id, host=b.host, connection_uri=b.connection_uri,
                pooled_connection_uri=b.pooled_connection_uri, data_api_url=b.data_api_url,
            )
            for n, b in self.dev_branches.items()
        }
        outputs: dict[str, Any] = {
            "project_id": project.project_id, "org_id": project.org_id,
            "default_branch_id": project.default_branch_id, "host": project.host,
            "connection_uri": pulumi.Output.secret(project.connection_uri),
            "pooled_connection_uri": pulumi.Output.secret(project.pooled_connection_uri),
            "data_api_url": project.data_api_url,
            "neon_auth_pub_client_key": project.neon_auth_pub_client_key,
            "neon_auth_secret_server_key": pulumi.Output.secret(
                project.neon_auth_secret_server_key),
            "neon_auth_jwks_url": project.neon_auth_jwks_url,
            "dev_branches": pulumi.Output.secret(pulumi.Output.all(**branches))
            if branches else {},
        }
        for key, value in outputs.items():
            if key != "dev_branches":  # the attribute holds the DevBranch resources
                setattr(self, key, value)
        self.dev_branch_outputs = outputs["dev_branches"]
        self.register_outputs(outputs)
