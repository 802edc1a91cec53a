"""The archive manifest: what was archived, when, and how to check it (issue 12).

Written beside the archive file only after the file is complete (atomic rename of both), so a
manifest always describes a whole archive; `verify` recomputes the sha256 before a restore.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

MANIFEST_KIND = "neon-tenants/tenant-archive"
MANIFEST_SUFFIX = ".manifest.json"


class ArchiveCorrupt(RuntimeError):
    """The archive file is missing or its checksum differs from its manifest."""


class ArchiveManifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str = MANIFEST_KIND
    tenant: str
    tier: str
    project_id: str
    archived_at: datetime
    file: str
    """The archive's file name, relative to the manifest's directory."""
    size_bytes: int
    sha256: str
    format: str
    """`pg_dump-custom` (the default command) or `custom` (a configured command's file)."""
    server_version: str | None = None
    pg_dump_version: str | None = None

    def archive_path(self, manifest_path: Path) -> Path:
        return manifest_path.parent / self.file

    def verify(self, manifest_path: Path) -> Path:
        """The archive file, after checking its size and sha256 against this manifest."""
        path = self.archive_path(manifest_path)
        if not path.is_file():
            raise ArchiveCorrupt(f"archive file {path} is missing")
        size, digest = file_digest(path)
        if size != self.size_bytes or digest != self.sha256:
            raise ArchiveCorrupt(
                f"archive {path} does not match its manifest: sha256 {digest} "
                f"({size} bytes), manifest says {self.sha256} ({self.size_bytes} bytes)"
            )
        return path


def file_digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            h.update(chunk)
    return size, h.hexdigest()


def read_manifest(path: Path) -> ArchiveManifest:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("kind") != MANIFEST_KIND:
        raise ArchiveCorrupt(f"{path} is not a tenant archive manifest (kind {data.get('kind')!r})")
    return ArchiveManifest.model_validate(data)


def write_manifest(path: Path, manifest: ArchiveManifest) -> None:
    """Atomic (temp file, fsync, rename): a reader never sees half a manifest."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(manifest.model_dump_json(indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_manifests(archive_dir: Path, tenant: str | None = None) -> list[Path]:
    """Manifests under `archive_dir` (one folder per tenant), oldest first."""
    root = archive_dir / tenant if tenant else archive_dir
    if not root.is_dir():
        return []
    return sorted(root.rglob(f"*{MANIFEST_SUFFIX}"))
