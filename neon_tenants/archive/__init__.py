"""Archive before delete and restore from an archive (issue 12).

`resource.archive_before_delete` declares, per tenant, the `command.local.Command` whose
`delete` runs `python -m neon_tenants.archive` (`dump.take_archive`) before the engine may
delete the tenant's project; `dump.restore_dump` brings an archive back into a database.
"""

from __future__ import annotations

from neon_tenants.archive.dump import ArchiveError, restore_dump, take_archive
from neon_tenants.archive.manifest import (
    ArchiveCorrupt,
    ArchiveManifest,
    list_manifests,
    read_manifest,
)
from neon_tenants.archive.resource import ArchiveSettings, archive_before_delete

__all__ = [
    "ArchiveCorrupt",
    "ArchiveError",
    "ArchiveManifest",
    "ArchiveSettings",
    "archive_before_delete",
    "list_manifests",
    "read_manifest",
    "restore_dump",
    "take_archive",
]
