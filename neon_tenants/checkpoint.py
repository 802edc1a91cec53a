"""Compound checkpoints and app revisions of a tenant (issue 12). No Pulumi import.

On agent platforms a checkpoint is compound: a database snapshot, the app revision that was
running, and the platform's own metadata. A `Checkpoint` is recorded in the tenant's fleet
entry (the fleet store: the fleet file or its PostgreSQL table) together with the snapshot it
names, and the program exports it in the tenant's stack output, so it is never only in memory.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LABEL_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,40}$")
SNAPSHOT_PREFIX = "cp-"

MetadataValue = str | int | float | bool | None


class Checkpoint(BaseModel):
    """One checkpoint: `label` names it, `snapshot` is the tenant snapshot holding the data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    snapshot: str
    app_revision: str | None = None
    metadata: dict[str, MetadataValue] = Field(default_factory=dict)
    created_at: datetime

    @field_validator("label")
    @classmethod
    def _label_shape(cls, value: str) -> str:
        check_label(value)
        return value


RetiredWhy = Literal["dropped", "replaced", "deleted"]
"""Why a checkpoint left the live set: its snapshot rotated out (`dropped`), its label was
recorded again (`replaced`), the tenant was deleted (`deleted`)."""


class CheckpointRecord(BaseModel):
    """A checkpoint's history entry (PostgreSQL store, `nt_checkpoints`): the checkpoint, where
    and when it was recorded, and whether (and why) it was retired. Kept after the tenant is
    deleted, for audit."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tier: str
    checkpoint: Checkpoint
    recorded_at: datetime
    retired_at: datetime | None = None
    retired_why: RetiredWhy | None = None


def check_label(label: str) -> None:
    if not LABEL_RE.match(label):
        raise ValueError(
            f"checkpoint label {label!r} must be 1-41 chars of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit"
        )


def snapshot_name(label: str) -> str:
    return f"{SNAPSHOT_PREFIX}{label}"


REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def check_revision(revision: str) -> None:
    """App revisions become Command triggers and env values: keep them plain tokens."""
    if not REVISION_RE.match(revision):
        raise ValueError(
            f"app revision {revision!r} must be 1-64 chars of A-Z, a-z, 0-9, '.', '_', '+' "
            "and '-', starting with a letter or digit"
        )
