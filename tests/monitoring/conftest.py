"""Monitoring fixtures: a client on the shared metadata emulator and a project factory.

The emulator is shared by the whole session, so every test works on projects named with a
unique prefix (and passes it as `search`): reports and cleanups never see, let alone
delete, projects of other tests. The factory deletes what it created.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from neon_tenants.client import (
    ClientConfig,
    NeonClient,
    NeonCredentials,
    ProjectCreate,
    ProjectQuota,
    ProjectSettings,
)
from neon_tenants.client.errors import NeonError
from neon_tenants.client.models.projects import CreatedProject

MakeProject = Callable[..., CreatedProject]


def window(emulator: Any) -> tuple[str, str]:
    """Two hours of the emulator's own clock (the 406 window check uses it)."""
    now = datetime.fromisoformat(emulator.admin("GET", "state")["now"].replace("Z", "+00:00"))
    now = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (now - timedelta(hours=2)).strftime(fmt), now.strftime(fmt)


def client_for(emulator: Any) -> NeonClient:
    creds = NeonCredentials.from_file(emulator.credentials_file)
    return NeonClient(creds, ClientConfig(base_url=emulator.base_url, backoff_initial=0.05))


@pytest.fixture
def neon(metadata_emulator: Any) -> Iterator[NeonClient]:
    with client_for(metadata_emulator) as client:
        yield client


@pytest.fixture
def prefix() -> str:
    """Unique per test; doubles as the `platform` so tenant ids read back cleanly."""
    return f"mon{uuid.uuid4().hex[:8]}"


def _factory(client: NeonClient, prefix: str) -> Iterator[MakeProject]:
    made: list[tuple[str, str]] = []

    def make(tenant: str, org: str = "free", **quota: int) -> CreatedProject:
        settings = ProjectSettings(quota=ProjectQuota(**quota)) if quota else None
        body = ProjectCreate(name=f"{prefix}-{tenant}", settings=settings)
        created = client.org(org).create_project(body)
        made.append((org, created.project.id))
        return created

    yield make
    for org, project_id in made:
        with contextlib.suppress(NeonError):
            client.org(org).delete_project(project_id)


@pytest.fixture
def make_project(neon: NeonClient, prefix: str) -> Iterator[MakeProject]:
    yield from _factory(neon, prefix)
