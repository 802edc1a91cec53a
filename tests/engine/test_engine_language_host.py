"""`pulumi preview/up` from a Pulumi.yaml project go through OUR language host.

The official pulumi-language-python is not served by the Go proxy here, so
tools/pulumi-language-python stands in for it; these tests drive it through the real CLI
exactly as `pulumi up` in the repo does: runtime python + the virtualenv option.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.engine

PROGRAM = """\
import os
import pulumi
from neon_tenants._selftest import FileMarker

cfg = pulumi.Config()
marker = FileMarker("viahost", directory=cfg.require("dir"), content=cfg.require("content"))
pulumi.export("path", marker.path)
pulumi.export("venv", os.environ.get("PULUMI_RUNTIME_VIRTUALENV", ""))
pulumi.export("token_len", cfg.require_secret("token").apply(len))
pulumi.export("root", pulumi.get_root_directory())
"""


def _project(root: Path, venv: Path, program: str) -> Path:
    root.mkdir()
    (root / "Pulumi.yaml").write_text(
        f"name: lhost-test\nruntime:\n  name: python\n  options:\n    virtualenv: {venv}\n"
    )
    (root / "__main__.py").write_text(program)
    return root


@pytest.fixture
def project(tmp_path: Path, repo_root: Path, engine_env: Any) -> Any:
    proj = _project(tmp_path / "proj", repo_root / ".venv", PROGRAM)
    stack = f"s{tmp_path.name[-6:]}".replace("_", "")
    engine_env.run("stack", "init", stack, cwd=proj)
    yield proj, stack
    engine_env.run("destroy", "--yes", "--stack", stack, cwd=proj, check=False)
    engine_env.run("stack", "rm", "--yes", "--force", "--stack", stack, cwd=proj, check=False)


def test_cli_preview_and_up_run_through_our_language_host(
    project: Any, engine_env: Any, repo_root: Path, marker_dir: Path
) -> None:
    proj, stack = project
    for key, value in (("dir", str(marker_dir)), ("content", "from-cli")):
        engine_env.run("config", "set", "--stack", stack, key, value, cwd=proj)
    engine_env.run("config", "set", "--stack", stack, "--secret", "token", "s3cr3t", cwd=proj)

    preview = json.loads(engine_env.run("preview", "--stack", stack, "--json", cwd=proj).stdout)
    assert preview["changeSummary"] == {"create": 2}
    ops = {(s["op"], s["urn"].rsplit("::", 1)[-1]) for s in preview["steps"]}
    assert ("create", "viahost") in ops
    assert not (marker_dir / "viahost").exists(), "a preview must not create anything"

    engine_env.run("up", "--yes", "--skip-preview", "--stack", stack, cwd=proj)
    out = json.loads(
        engine_env.run(
            "stack", "output", "--json", "--show-secrets", "--stack", stack, cwd=proj
        ).stdout
    )
    assert (marker_dir / "viahost").read_text() == "from-cli"
    assert out["venv"] == str(repo_root / ".venv")  # set by our host from the runtime option
    assert out["token_len"] == 6  # PULUMI_CONFIG + PULUMI_CONFIG_SECRET_KEYS reached the SDK
    assert out["root"] == str(proj)  # --root_directory: where Pulumi.yaml is

    about = engine_env.run("about", "--stack", stack, cwd=proj).stdout
    assert "neon-tenants pulumi-language-python" in about


def test_program_error_is_reported_once_and_fails(
    tmp_path: Path, repo_root: Path, engine_env: Any
) -> None:
    proj = _project(tmp_path / "bad", repo_root / ".venv", 'raise ValueError("boom-17")\n')
    engine_env.run("stack", "init", "bad", cwd=proj)
    try:
        res = engine_env.run("preview", "--stack", "bad", cwd=proj, check=False)
    finally:
        engine_env.run("stack", "rm", "--yes", "--force", "--stack", "bad", cwd=proj, check=False)
    output = res.stdout + res.stderr
    assert res.returncode != 0
    assert "ValueError: boom-17" in output
    # Exit code 32 from the exec shim means "already shown": our host bails, adding no error.
    assert "Program exited with non-zero exit code" not in output


def test_missing_virtualenv_is_an_actionable_error(tmp_path: Path, engine_env: Any) -> None:
    proj = _project(tmp_path / "novenv", tmp_path / "no-such-venv", "import pulumi\n")
    engine_env.run("stack", "init", "novenv", cwd=proj)
    try:
        res = engine_env.run("preview", "--stack", "novenv", cwd=proj, check=False)
    finally:
        engine_env.run(
            "stack", "rm", "--yes", "--force", "--stack", "novenv", cwd=proj, check=False
        )
    assert res.returncode != 0
    assert "make setup" in res.stdout + res.stderr


def test_relative_virtualenv_with_main_subdir_reaches_dynamic_providers(
    tmp_path: Path, repo_root: Path, engine_env: Any, marker_dir: Path
) -> None:
    """The repo's own layout (`main: neon_tenants/`, `virtualenv: .venv`): the engine starts
    dynamic providers in the main dir with the option verbatim (pulumi/pulumi#7061); our
    wrapper resolves it against Pulumi.yaml's dir."""
    proj = tmp_path / "layout"
    (proj / "app").mkdir(parents=True)
    (proj / ".venv").symlink_to(repo_root / ".venv")
    (proj / "Pulumi.yaml").write_text(
        "name: layout-test\nmain: app/\n"
        "runtime:\n  name: python\n  options:\n    virtualenv: .venv\n"
    )
    (proj / "app" / "__main__.py").write_text(
        "from neon_tenants._selftest import FileMarker\n"
        f"FileMarker('rel', directory={str(marker_dir)!r}, content='ok')\n"
    )
    env = {k: v for k, v in engine_env.env.items() if k != "PULUMI_PYTHON_CMD"}
    runner = type(engine_env)(env=env, pulumi=engine_env.pulumi, backend_dir=engine_env.backend_dir)
    runner.run("stack", "init", "layout", cwd=proj)
    try:
        runner.run("up", "--yes", "--skip-preview", "--stack", "layout", cwd=proj)
        assert (marker_dir / "rel").read_text() == "ok"
    finally:
        runner.run("destroy", "--yes", "--stack", "layout", cwd=proj, check=False)
        runner.run("stack", "rm", "--yes", "--force", "--stack", "layout", cwd=proj, check=False)
    assert not (marker_dir / "rel").exists()
