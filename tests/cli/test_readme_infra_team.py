"""Issue #17's proof: the README's infra-team commands, in order, on a fresh copy of the
repository, through the real engine and the emulator, with no step the README does not show.

The commands are read from the README itself (the first ```sh block of the "Infra teams"
section) and run in ONE bash process, as a person pasting them would, with a marker printed
around each so every command's exit code and output can be checked. The only thing added
is NEON_EMULATOR_CONFIG (the `emulator start --config` option's variable) with a private
endpoint port, since other emulators on this machine may hold 127.1.0.1:5432. The compute is
real PostgreSQL: `destroy` archives each tenant's database (pg_dump) before deleting it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import Checkout
from tests.conftest import free_port

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SECTION = "### Infra teams"


def readme_commands(readme: Path) -> list[str]:
    """The section's first sh block as commands (a heredoc stays with its command)."""
    text = readme.read_text(encoding="utf-8")
    start = text.index(SECTION)
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, "the infra-team section has a sh block"
    commands: list[str] = []
    lines = iter(block.group(1).splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc:
            body = []
            for more in lines:
                body.append(more)
                if more.strip() == heredoc.group(1):
                    break
            line = "\n".join([line, *body])
        commands.append(line)
    return commands


def run_in_one_shell(checkout: Checkout, commands: list[str]) -> list[tuple[str, int, str]]:
    script = []
    for i, cmd in enumerate(commands):
        script += [f"echo '@@begin {i}'", cmd, f"echo \"@@end {i} rc=$?\""]
    res = subprocess.run(["bash", "-c", "\n".join(script)], cwd=checkout.root, env=checkout.env,
                         capture_output=True, text=True, timeout=1200, check=False)
    out = res.stdout
    results = []
    for i, cmd in enumerate(commands):
        m = re.search(rf"@@begin {i}\n(.*?)@@end {i} rc=(\d+)\n", out, re.S)
        assert m, f"command {i} ({cmd!r}) did not run:\n{out[-3000:]}\n{res.stderr[-3000:]}"
        results.append((cmd, int(m.group(2)), m.group(1)))
    return results


def test_readme_infra_team_commands_work_in_order_on_a_fresh_clone(checkout: Checkout) -> None:
    commands = readme_commands(checkout.root / "README.md")
    kinds = [c.split("#")[0].strip() for c in commands]
    assert kinds[:5] == ["source scripts/env.sh", "neon-tenants stacks init",
                         "neon-tenants emulator start", 'eval "$(neon-tenants emulator env)"',
                         "pulumi preview --stack free --diff"], kinds
    committed = {p.name: p.read_bytes() for p in (checkout.root / "stacks").glob("Pulumi.*.yaml")}
    config = checkout.root.parent / "emulator.json"
    config.write_text(json.dumps({"endpoint_port": free_port()}))
    env = {**checkout.env, "NEON_EMULATOR_CONFIG": str(config)}
    # the probe runs while the emulator is up: the tier's projects after `up` and `destroy`
    probe = ('python -c "import httpx, json, os; c = json.load(open(os.environ[\'NEON_CREDENTIALS'
             '_FILE\'])); print(sorted(p[\'name\'] for p in httpx.get(os.environ[\'NEON_API_BASE_'
             'URL\'] + \'/projects\', headers={\'Authorization\': \'Bearer \' + c[\'orgs\'][\'free'
             '\'][\'api_key\']}).json()[\'projects\']))"')
    steps = []
    for cmd in commands:
        steps.append(cmd)
        if cmd.startswith(("pulumi up", "pulumi destroy")):
            steps.append(probe)
    try:
        results = run_in_one_shell(Checkout(checkout.root, env), steps)
    finally:
        subprocess.run(["bash", "-c", "source scripts/env.sh && neon-tenants emulator stop"],
                       cwd=checkout.root, env=env, capture_output=True, timeout=120, check=False)
    for cmd, rc, out in results:
        assert rc == 0, f"{cmd!r} exited {rc}:\n{out[-3000:]}"
        assert "Traceback" not in out, out
    outs = [out for cmd, _rc, out in results if cmd != probe]
    projects = [out.strip() for cmd, _rc, out in results if cmd == probe]
    assert "free: created" in outs[kinds.index("neon-tenants stacks init")]
    first_preview, second_preview = (o for k, o in zip(kinds, outs, strict=True)
                                     if k == "pulumi preview --stack free --diff")
    planned = re.search(r"\+ (\d+) to create", first_preview)
    assert planned, first_preview[-2000:]
    assert "demo-a-project" in first_preview and "demo-z" not in first_preview
    # the edit, property by property: the new tenant and its lower ceiling, nothing else
    created = re.findall(r": \(create\)\n\s+\[urn=(\S+)\]", second_preview)
    assert created and all(urn.split("::")[-1].startswith("demo-z") for urn in created), created
    assert any(urn.endswith("::demo-z-project") for urn in created), created
    z_block = second_preview[second_preview.index("demo-z-project"):]
    assert re.search(r"\n\s+max_cu\s+: 1\n", z_block), second_preview[-3000:]
    assert "+ demo-z: [secret]" in second_preview, "the connection info output is masked"
    assert f"{planned.group(1)} unchanged" in second_preview, second_preview[-2000:]
    assert projects[0] == "['nt-demo-a', 'nt-demo-b', 'nt-demo-c']"
    assert projects[1] == "['nt-demo-a', 'nt-demo-b', 'nt-demo-c', 'nt-demo-z']"
    assert projects[2] == "[]", "destroy deleted the tier's projects"
    assert "emulator stopped" in outs[-1]
    for name, data in committed.items():
        assert (checkout.root / "stacks" / name).read_bytes() == data, f"{name} was rewritten"
