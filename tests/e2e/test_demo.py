"""`make run`'s demo end to end: real emulator (PostgreSQL), real engine, no credentials."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.postgres, pytest.mark.slow]


def test_demo_connects_upgrades_in_place_and_undoes(tmp_path: Path, repo_root: Path) -> None:
    data = tmp_path / "emu"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEON_")}
    env["COLUMNS"] = "200"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from neon_tenants.cli.app import main; main()",
            "demo",
            "--data-dir",
            str(data),
        ],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    for tenant in ("demo-a", "demo-b", "demo-c", "demo-d", "demo-e"):
        assert re.search(rf"{tenant}\s.*postgresql://neondb_owner:\*\*\*\*@", text), tenant
    assert re.search(r"upgrade demo-c: free -> pro, project (\S+) -> \1 \(same\)", text)
    undo_table = text[text.index("after the undo") :]
    assert "before T" in undo_table
    assert "will be undone" not in undo_table
    assert not re.search(r"postgresql://[^:\s]+:(?!\*\*\*\*@)[^@\s]+@", text)
    # state kept, emulator stopped; the committed fleets were not touched
    assert (data / "state.json").exists() and (data / "stacks" / "fleets" / "free.yaml").exists()
    assert "demo-c" in (repo_root / "stacks" / "fleets" / "free.yaml").read_text()
