"""`neon-tenants stacks init` and `neon-tenants emulator start|env|status|stop` (issue #17),
run in a fresh copy of the repository with the real engine, and plain `pulumi` errors that
arrive as one line per resource (the traceback only with NEON_TENANTS_DEBUG=1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from neon_tenants.fleet import shard_of
from tests.cli.conftest import Checkout

pytestmark = [pytest.mark.engine]


def _stacks(checkout: Checkout) -> set[str]:
    res = checkout.sh("pulumi stack ls --json")
    assert res.returncode == 0, res.stderr
    return {s["name"] for s in json.loads(res.stdout)}


def test_stacks_init_creates_every_fleet_stack_and_leaves_committed_files_alone(
    checkout: Checkout,
) -> None:
    committed = {p.name: p.read_bytes() for p in (checkout.root / "stacks").glob("Pulumi.*.yaml")}
    missing = checkout.sh("pulumi preview --stack free --color never")
    assert "no stack named 'free'" in missing.stdout + missing.stderr
    fleets = checkout.root / "stacks" / "fleets"
    ent = [f"ent-{i}" for i in range(6)]
    (fleets / "enterprise.yaml").write_text(
        "tier: enterprise\nshards: 3\ntenants:\n" + "".join(f"- id: {t}\n" for t in ent))

    first = checkout.sh("neon-tenants stacks init")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "free: created" in first.stdout and "enterprise-02: created" in first.stdout
    assert _stacks(checkout) == {"free", "pro", "enterprise-00", "enterprise-01",
                                 "enterprise-02"}
    again = checkout.sh("neon-tenants stacks init --json")
    assert again.returncode == 0, again.stderr
    assert not any(s["created"] for s in json.loads(again.stdout)["stacks"])
    for name, data in committed.items():
        assert (checkout.root / "stacks" / name).read_bytes() == data, f"{name} was rewritten"
    shard = (checkout.root / "stacks" / "Pulumi.enterprise-01.yaml").read_text()
    assert "neon-tenants:tier: enterprise" in shard and "encryptionsalt" in shard
    assert "neon-tenants:catalogFile: stacks/tiers.yaml" in shard
    # plain pulumi on a shard stack declares exactly that shard's tenants
    shard_preview = checkout.sh("pulumi preview --stack enterprise-01 --color never")
    assert shard_preview.returncode == 0, shard_preview.stdout[-2000:] + shard_preview.stderr
    mine = {t for t in ent if shard_of(t, 3) == 1}
    assert mine and mine != set(ent)
    for t in ent:
        assert (f"{t}-project" in shard_preview.stdout) == (t in mine), t

    preview = checkout.sh("pulumi preview --stack free --color never")
    assert preview.returncode == 0, preview.stdout[-2000:] + preview.stderr[-2000:]
    assert "demo-a-project" in preview.stdout
    for name, data in committed.items():
        assert (checkout.root / "stacks" / name).read_bytes() == data, f"{name} changed"


def test_stacks_init_names_a_missing_fleet_in_one_line(checkout: Checkout) -> None:
    res = checkout.sh("neon-tenants stacks init --tier nosuch")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: no fleet file for tier(s) nosuch in {checkout.root}/stacks/fleets "
        "(a fleet is stacks/fleets/<tier>.yaml)"]


def test_emulator_start_env_status_stop(checkout: Checkout, tmp_path: object) -> None:
    cfg = checkout.root / "meta.json"
    cfg.write_text('{"compute": "metadata"}')
    env_cfg = f"NEON_EMULATOR_CONFIG={cfg}"
    try:
        start = checkout.sh(f"{env_cfg} neon-tenants emulator start --json")
        assert start.returncode == 0, start.stdout + start.stderr
        info = json.loads(start.stdout)
        assert info["started"] is True
        again = checkout.sh("neon-tenants emulator start --json")
        assert json.loads(again.stdout)["started"] is False
        assert json.loads(again.stdout)["pid"] == info["pid"]

        exports = checkout.sh("neon-tenants emulator env")
        assert exports.returncode == 0
        assert exports.stdout.splitlines() == [
            f"export NEON_API_BASE_URL={info['NEON_API_BASE_URL']}",
            f"export NEON_CREDENTIALS_FILE={checkout.root}/.emulator/credentials.json",
        ]
        assert "api_key" not in exports.stdout
        # the exported variables reach a Neon client: a call with the emulator's keys works
        probe = checkout.sh(
            'eval "$(neon-tenants emulator env)" && python -c "'
            "from neon_tenants.client import NeonClient, NeonCredentials, ClientConfig; import os;"
            "c = NeonClient(NeonCredentials.from_env(), ClientConfig("
            "base_url=os.environ['NEON_API_BASE_URL']));"
            "print(c.org('free').get_organization().id)\"")
        assert probe.returncode == 0 and probe.stdout.strip().startswith("org-"), probe.stderr
        assert checkout.sh("neon-tenants emulator status").returncode == 0
    finally:
        stop = checkout.sh("neon-tenants emulator stop")
    assert stop.returncode == 0 and "emulator stopped" in stop.stdout, stop.stdout + stop.stderr
    assert checkout.sh("neon-tenants emulator status").returncode == 1
    after = checkout.sh("neon-tenants emulator env")
    assert after.returncode == 1 and after.stdout == ""
    assert "neon-tenants emulator start" in after.stderr


def test_plain_pulumi_up_without_credentials_is_one_line_per_resource(
    checkout: Checkout,
) -> None:
    res = checkout.sh("neon-tenants stacks init --tier pro && "
                      "pulumi up --stack pro --yes --color never")
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Traceback" not in out and "File \"" not in out, out
    diag = out[out.index("Diagnostics:"):]
    for tenant in ("demo-d", "demo-e"):
        block = diag[diag.index(f"({tenant}-project):"):].splitlines()
        assert block[1].strip().startswith("error: no Neon credentials"), block[:3]
        assert "neon-tenants emulator start" in block[1]
        assert block[2].strip() == "", "exactly one line for the resource"

    debug = checkout.sh("NEON_TENANTS_DEBUG=1 pulumi up --stack pro --yes --color never")
    assert "Traceback (most recent call last)" in debug.stdout + debug.stderr


def test_a_neon_api_failure_is_one_line_naming_what_to_do(
    checkout: Checkout, module_emulator: Any
) -> None:
    """Neon refuses every project create (403): each project's diagnostic is one line that
    says it came from Neon and what to do, with no traceback and no key in it."""
    env = {**checkout.env, **module_emulator.client_env}
    rule = {"route": "POST /projects", "error_rate": 1.0, "status": 403}
    module_emulator.admin("PUT", "faults", {"faults": [rule]})
    try:
        res = Checkout(checkout.root, env).sh(
            "neon-tenants stacks init --tier pro && pulumi up --stack pro --yes --color never")
    finally:
        module_emulator.admin("PUT", "faults", {"faults": []})
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "Traceback" not in out, out[-3000:]
    diag = out[out.index("Diagnostics:"):]
    keys = json.loads(module_emulator.credentials_file.read_text())
    for tenant in ("demo-d", "demo-e"):
        block = diag[diag.index(f"({tenant}-project):"):].splitlines()
        assert block[1].strip().startswith("error: Neon API: "), block[:3]
        assert block[1].rstrip().endswith(
            "check the Neon API keys (NEON_CREDENTIALS_FILE or NEON_*_API_KEY)"), block[1]
        assert block[2].strip() == "", "exactly one line for the resource"
    assert keys["orgs"]["paid"]["api_key"] not in out
