"""`neon-tenants worker` in PostgreSQL mode refuses to start with archives on and no shared
NEON_TENANTS_ARCHIVE_DIR (each host would archive to its own work dir); with the directory
named it starts (real PostgreSQL 15, the CLI as a process, an empty queue)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _worker(url: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "neon-tenants")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PULUMI_BACKEND_URL", "NEON_TENANTS_ARCHIVE", "NEON_TENANTS_ARCHIVE_DIR")}
    env.update({"NEON_TENANTS_DATABASE_URL": url, "HOME": str(tmp_path),
                "NEON_TENANTS_STACKS_DIR": str(tmp_path / "stacks"),
                "PULUMI_CONFIG_PASSPHRASE": "archive-dir-secret", **extra})
    return subprocess.run(
        [exe, "worker", "--until-idle", "--shards-only", "--work-dir", str(tmp_path / "w")],
        env=env, capture_output=True, text=True, timeout=120)


def test_a_postgres_worker_needs_a_shared_archive_dir_unless_archives_are_off(
    migrated_url: str, pg_server: Any, tmp_path: Path
) -> None:
    (tmp_path / "stacks").mkdir()
    refused = _worker(migrated_url, tmp_path)
    assert refused.returncode == 1
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), refused.stderr
    assert "NEON_TENANTS_ARCHIVE_DIR" in lines[0] and "NEON_TENANTS_ARCHIVE=off" in lines[0]
    assert pg_server.password not in refused.stdout + refused.stderr
    assert not (tmp_path / "w").exists()  # refused before anything was set up

    shared = _worker(migrated_url, tmp_path, NEON_TENANTS_ARCHIVE_DIR=str(tmp_path / "arch"))
    assert shared.returncode == 0, shared.stderr
    off = _worker(migrated_url, tmp_path, NEON_TENANTS_ARCHIVE="off")
    assert off.returncode == 0, off.stderr
