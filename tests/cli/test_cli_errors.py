"""Bad fleet files come back as one line per problem (file, tenant, field, allowed values,
tier) and exit 1 in text, --json and --markdown alike: never a traceback (issue #17).
The check runs before any engine or emulator starts, and changes no file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Checkout

UNKNOWN_KEY = """tier: free
shards: 1
tenants:
- id: demo-a
- id: demo-b
  dev_brnches:
  - name: feature-x
"""
MAX_CU_4 = """tier: free
shards: 1
tenants:
- id: demo-a
  compute_overrides:
    max_cu: 4
- id: demo-b
"""
CASES = {
    "unknown-key": (UNKNOWN_KEY, "demo-b", "dev_brnches", ["allowed:", "dev_branches"]),
    "max-cu-4": (MAX_CU_4, "demo-a", "compute_overrides.max_cu", ["0.25-2.0 CU"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["text", "json", "markdown"])
def test_bad_fleet_file_is_one_line_per_problem_and_exit_1(
    checkout: Checkout, case: str, mode: str
) -> None:
    text, tenant, field, allowed = CASES[case]
    fleet = checkout.root / "stacks" / "fleets" / "free.yaml"
    fleet.write_text(text)
    flag = {"text": "", "json": "--json", "markdown": "--markdown"}[mode]
    res = checkout.sh(f"neon-tenants preview {flag}", timeout=120)
    both = res.stdout + res.stderr
    assert res.returncode == 1, both
    assert "Traceback" not in both and 'File "' not in both, both
    assert fleet.read_text() == text, "the check writes nothing"
    assert not (checkout.root / ".emulator").exists(), "no emulator started for a bad file"
    if mode == "json":
        body = json.loads(res.stdout)
        assert body["exit_code"] == 1 and body["kind"] == "FleetFileInvalid"
        (problem,) = body["problems"]
        assert problem["file"] == "stacks/fleets/free.yaml"
        assert (problem["tenant"], problem["field"], problem["tier"]) == (tenant, field, "free")
        for word in allowed:
            assert word in problem["message"]
        return
    out = res.stdout if mode == "markdown" else res.stderr
    if mode == "markdown":
        assert out.startswith("### Fleet preview: error"), out
    lines = [ln for ln in out.splitlines() if field in ln]
    assert len(lines) == 1, out
    line = lines[0]
    for word in ("stacks/fleets/free.yaml", f"tenant {tenant}", f"field {field}", "tier free",
                 *allowed):
        assert word in line, line


def test_plain_pulumi_preview_reports_the_bad_fleet_file_in_one_line(
    checkout: Checkout, tmp_path: Path
) -> None:
    """The same check inside the Pulumi program (`pulumi preview --stack free`)."""
    (checkout.root / "stacks" / "fleets" / "free.yaml").write_text(MAX_CU_4)
    res = checkout.sh("neon-tenants stacks init --tier free && "
                      "pulumi preview --stack free --color never")
    both = res.stdout + res.stderr
    assert res.returncode != 0, both
    assert "Traceback" not in both, both
    lines = [ln.strip() for ln in both.splitlines() if "compute_overrides.max_cu" in ln]
    diagnostics = [ln for ln in lines if ln.startswith("error: ")]
    assert len(diagnostics) == 1, both
    assert diagnostics[0].startswith("error: stacks/fleets/free.yaml: tenant demo-a: field "
                                     "compute_overrides.max_cu: "), both
    assert "allowed 0.25-2.0 CU on tier free" in diagnostics[0]


@pytest.mark.parametrize("mode", ["text", "json", "markdown"])
def test_bad_tenant_id_is_one_line_naming_the_field(checkout: Checkout, mode: str) -> None:
    flag = {"text": "", "json": "--json", "markdown": "--markdown"}[mode]
    cmd = (f"neon-tenants tenant provision Bad_Id --tier free {flag}" if mode != "markdown"
           else "neon-tenants preview --markdown --tier nosuch")
    res = checkout.sh(cmd, timeout=120)
    both = res.stdout + res.stderr
    assert res.returncode == 1, both
    assert "Traceback" not in both and "errors.pydantic.dev" not in both, both
    if mode == "json":
        body = json.loads(res.stdout)
        assert body["status"] == 422 and body["exit_code"] == 1
        (problem,) = body["problems"]
        assert problem["field"] == "id" and "Bad_Id" in problem["message"]
    elif mode == "text":
        assert res.stderr.strip().splitlines() == [
            "error: field id: tenant id 'Bad_Id' must be 2-48 chars of a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"]
    else:
        assert res.stdout.startswith("### Fleet preview: error"), both
        assert "nosuch" in res.stdout and "known" in res.stdout, both


def test_debug_flag_adds_the_traceback(checkout: Checkout) -> None:
    (checkout.root / "stacks" / "fleets" / "free.yaml").write_text(MAX_CU_4)
    res = checkout.sh("NEON_TENANTS_DEBUG=1 neon-tenants preview --json", timeout=120)
    assert res.returncode == 1
    assert "Traceback (most recent call last)" in res.stderr
    assert json.loads(res.stdout)["kind"] == "FleetFileInvalid"
