"""`pulumi preview --diff` on a tier stack (issue #17): property-level changes, secrets
masked, and a change that breaks a tier limit named in one line with the allowed values.
Real engine, `neon_tenants/__main__.py`, the providers, the emulator."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli.conftest import Checkout, clean_env, copy_checkout

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, repo_root: Path,
             module_emulator: Any) -> Iterator[Checkout]:
    root = copy_checkout(repo_root, tmp_path_factory.mktemp("diff") / "repo")
    checkout = Checkout(root, {**clean_env(), **module_emulator.client_env})
    up = checkout.sh("neon-tenants stacks init --tier free && pulumi up --stack free --yes "
                     "--color never")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    yield checkout


def _edit(checkout: Checkout, tenant_yaml: str) -> None:
    fleet = checkout.root / "stacks" / "fleets" / "free.yaml"
    text = fleet.read_text()
    fleet.write_text(re.sub(r"- id: demo-a\n(  .*\n)*", tenant_yaml, text, count=1))


def test_preview_diff_shows_changed_properties_and_masks_secrets(deployed: Checkout) -> None:
    shown = deployed.sh("pulumi stack output demo-a --show-secrets --json")
    assert shown.returncode == 0, shown.stderr
    password = urlsplit(json.loads(shown.stdout)["connection_uri"]).password
    assert password and len(password) >= 8
    _edit(deployed, "- id: demo-a\n  quota_overrides:\n    active_time_seconds: 100000\n"
                    "  compute_overrides:\n    max_cu: 1\n")
    res = deployed.sh("pulumi preview --stack free --diff --color never")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"~ active_time_seconds\s+: 360000 => 100000", out), out[-3000:]
    assert re.search(r"~ max_cu\s+: 2 => 1", out), out[-3000:]
    assert "demo-b" not in out.split("Resources:")[0].replace("demo-b: [secret]", ""), (
        "only the edited tenant's resources are listed")
    assert password not in out
    assert "postgresql://" not in out


def test_preview_diff_names_the_tier_limit_a_change_would_break(deployed: Checkout) -> None:
    _edit(deployed, "- id: demo-a\n  compute_overrides:\n    max_cu: 4\n"
                    "  quota_overrides:\n    logical_size_bytes: 1073741824\n")
    res = deployed.sh("pulumi preview --stack free --diff --color never")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Traceback" not in out
    errors = sorted({ln.strip() for ln in out.splitlines()
                     if ln.strip().startswith("error: stacks/fleets/free.yaml")})
    assert errors == [
        "error: stacks/fleets/free.yaml is invalid (2 problems); fix it and run again",
        "error: stacks/fleets/free.yaml: tenant demo-a: field compute_overrides.max_cu: 4.0 CU "
        "is outside the tier's range: allowed 0.25-2.0 CU on tier free",
        "error: stacks/fleets/free.yaml: tenant demo-a: field "
        "quota_overrides.logical_size_bytes: 1073741824 is outside 1..536870912 allowed on "
        "tier free (0 = unlimited is not allowed there)",
    ], out[-3000:]
