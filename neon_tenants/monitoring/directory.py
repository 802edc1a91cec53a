"""Who the tenants are: read from the fleet (fleet files + stack outputs), never from names.

Neon keeps no tenant and no tier on a project; the fleet does (issue 13, STYLE.md review
item 4). A directory is a callable returning `TenantRef`s, so the poller can be handed the
fleet's view, or a fixed list (benchmarks seeding 30,000 metadata tenants).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from neon_tenants.monitoring.readings import TenantRef

if TYPE_CHECKING:
    from neon_tenants.automation import FleetManager

Directory = Callable[[], list[TenantRef]]


def fleet_directory(manager: FleetManager) -> Directory:
    """Every tenant with a project in its stack's outputs, its tier and the tier's org."""

    def read() -> list[TenantRef]:
        out: list[TenantRef] = []
        for tier in manager.tiers_on_disk():
            org = manager.catalog.tier(tier).org
            protected = {t.id for t in manager.fleet(tier).tenants if t.protected}
            for tenant, conn in sorted(manager.connections(tier).items()):
                if not conn.project_id:
                    continue
                out.append(TenantRef(tenant=tenant, tier=tier, project_id=conn.project_id,
                                     org=org, protected=tenant in protected))  # fmt: skip
        return out

    return read


def static_directory(refs: Iterable[TenantRef]) -> Directory:
    fixed = list(refs)
    return lambda: list(fixed)
