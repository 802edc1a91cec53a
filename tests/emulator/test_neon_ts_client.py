"""Neon's own TypeScript client (npm `@neondatabase/api-client` 2.7.3, generated from the same
spec), run unchanged against the emulator: create with quota, list, pooled connection URI,
branch with a compute, transfer with the personal key, key isolation after it, delete."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).parent / "neon_ts_client"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed on this machine")
def test_neon_typescript_client_works_unchanged(metadata_emulator: Any) -> None:
    assert (CLIENT_DIR / "node_modules" / "@neondatabase" / "api-client").is_dir(), (
        "run `make setup` (scripts/bootstrap.sh installs the client with npm ci)")
    run = subprocess.run(
        ["node", "flow.js", metadata_emulator.base_url, str(metadata_emulator.credentials_file)],
        cwd=CLIENT_DIR, capture_output=True, text=True, timeout=180, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    creds = metadata_emulator.credentials
    assert seen["created_status"] == 201
    assert seen["quota"] == {"active_time_seconds": 360000, "logical_size_bytes": 536870912}
    assert len(seen["listed"]) >= 1
    assert seen["pooled_has_pooler_host"] is True
    assert seen["branches"] == ["dev", "main"]
    assert seen["transfer_status"] == 200
    assert seen["org_after_transfer"] == creds["orgs"]["paid"]["id"]
    assert seen["free_key_after_transfer"] == 404  # an org key sees only its own org
    assert seen["deleted_status"] == 200
