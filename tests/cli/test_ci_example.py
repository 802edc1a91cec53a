"""examples/ci/fleet-preview.sh, the shell step of the GitHub Actions and GitLab CI examples,
run against the emulator (as the CI's Neon) and a local HTTP receiver standing in for the
forge's API: "changes", "no changes" and "error" give the expected comment (always ONE,
updated in place) and exit codes (the job fails only on a failed preview)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Checkout, clean_env, copy_checkout

pytestmark = [pytest.mark.engine, pytest.mark.slow]

MARKER = "<!-- neon-tenants-fleet-preview -->"


@dataclass
class Forge:
    """Comments by list path (GitHub issue comments, GitLab MR notes); every request kept."""

    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    next_id: int = 100

    def bodies(self, path: str) -> list[str]:
        return [c["body"] for c in self.comments.get(path, [])]


def _handler(forge: Forge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            path = self.path.split("?", 1)[0]
            forge.requests.append((self.command, self.path, dict(self.headers)))
            if self.headers.get("Authorization") != "Bearer gh-token" and \
                    self.headers.get("PRIVATE-TOKEN") != "gl-token":
                return self._reply(401, {"message": "Bad credentials"})
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if self.command == "GET":
                return self._reply(200, forge.comments.get(path, []))
            if self.command == "POST":
                forge.next_id += 1
                item = {"id": forge.next_id, "body": body["body"]}
                forge.comments.setdefault(path, []).append(item)
                return self._reply(201, item)
            parent, _, ident = path.rpartition("/")
            for items in forge.comments.values():
                for item in items:
                    if str(item["id"]) == ident:
                        item["body"] = body["body"]
                        return self._reply(200, item)
            return self._reply(404, {"message": f"no comment {ident} under {parent}"})

        do_GET = do_POST = do_PATCH = do_PUT = _handle

    return Handler


@pytest.fixture(scope="module")
def forge() -> Iterator[tuple[Forge, str]]:
    state = Forge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory, repo_root: Path, module_emulator: Any,
       forge: tuple[Forge, str]) -> Iterator[Checkout]:
    """A checkout as the CI job sees it: Neon and Pulumi settings from 'secrets' only."""
    root = copy_checkout(repo_root, tmp_path_factory.mktemp("ci") / "repo")
    state = root.parent / "state"
    state.mkdir()
    env = {**clean_env(), **module_emulator.client_env,
           "PULUMI_BACKEND_URL": f"file://{state}",
           "PULUMI_CONFIG_PASSPHRASE": "neon-tenants-local",
           "GITHUB_API_URL": forge[1], "GITHUB_REPOSITORY": "acme/infra", "PR_NUMBER": "7",
           "GITHUB_TOKEN": "gh-token", "CI_API_V4_URL": forge[1] + "/api/v4",
           "CI_PROJECT_ID": "acme/infra", "CI_MERGE_REQUEST_IID": "3", "GITLAB_TOKEN": "gl-token"}
    yield Checkout(root, env)


GH_COMMENTS = "/repos/acme/infra/issues/7/comments"
GL_NOTES = "/api/v4/projects/acme%2Finfra/merge_requests/3/notes"


def test_changes_then_no_changes_then_error_keep_one_comment(
    ci: Checkout, forge: tuple[Forge, str]
) -> None:
    state, _ = forge
    changes = ci.sh("FORGE=github bash examples/ci/fleet-preview.sh")
    assert changes.returncode == 0, changes.stdout[-3000:] + changes.stderr[-3000:]
    (body,) = state.bodies(GH_COMMENTS)
    assert body.startswith(MARKER + "\n### Fleet preview\n"), body
    assert "**5 added, 0 removed, 0 moved," in body
    for tenant in ("demo-a", "demo-b", "demo-c", "demo-d", "demo-e"):
        assert f"| added | `{tenant}` |" in body
    assert "created comment" in changes.stderr

    for tier in ("free", "pro"):
        up = ci.sh(f"neon-tenants up --tier {tier} --json")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
    same = ci.sh("FORGE=github bash examples/ci/fleet-preview.sh")
    assert same.returncode == 0, same.stdout[-3000:] + same.stderr[-3000:]
    (body,) = state.bodies(GH_COMMENTS)
    assert body.startswith(MARKER + "\n### Fleet preview: no changes"), body
    assert "updated comment" in same.stderr

    fleet = ci.root / "stacks" / "fleets" / "free.yaml"
    good = fleet.read_text()
    fleet.write_text(good.replace("- id: demo-c", "- id: demo-c\n  compute_overrides:\n"
                                                   "    max_cu: 4"))
    try:
        failed = ci.sh("FORGE=github bash examples/ci/fleet-preview.sh")
    finally:
        fleet.write_text(good)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    (body,) = state.bodies(GH_COMMENTS)
    assert body.startswith(MARKER + "\n### Fleet preview: error"), body
    assert ("- stacks/fleets/free.yaml: tenant demo-c: field compute_overrides.max_cu: 4.0 CU "
            "is outside the tier's range: allowed 0.25-2.0 CU on tier free") in body
    assert "Traceback" not in body
    assert all(h.get("Authorization") == "Bearer gh-token"
               for _m, p, h in state.requests if p.startswith("/repos/"))


def test_gitlab_note_is_created_once_then_updated(ci: Checkout, forge: tuple[Forge, str]) -> None:
    state, _ = forge
    fleet = ci.root / "stacks" / "fleets" / "pro.yaml"
    good = fleet.read_text()
    fleet.write_text(good + "- id: demo-f\n")
    try:
        first = ci.sh("FORGE=gitlab bash examples/ci/fleet-preview.sh")
        second = ci.sh("FORGE=gitlab bash examples/ci/fleet-preview.sh")
    finally:
        fleet.write_text(good)
    assert first.returncode == 0 and second.returncode == 0, second.stdout + second.stderr
    (note,) = state.bodies(GL_NOTES)
    assert "| added | `demo-f` | pro |" in note
    methods = [m for m, p, _h in state.requests if p.startswith(GL_NOTES)]
    assert methods.count("POST") == 1 and methods.count("PUT") == 1, methods


def test_a_comment_that_cannot_be_posted_does_not_decide_the_job(
    ci: Checkout, forge: tuple[Forge, str]
) -> None:
    res = ci.sh("FORGE=github GITHUB_TOKEN=wrong bash examples/ci/fleet-preview.sh")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the forge answered 401" in res.stderr and "warning:" in res.stderr
    assert "wrong" not in res.stdout + res.stderr


def test_both_ci_examples_run_the_tested_script(repo_root: Path) -> None:
    import yaml

    gh = yaml.safe_load((repo_root / "examples" / "ci" / "github-actions.yml").read_text())
    steps = gh["jobs"]["preview"]["steps"]
    runs = [s.get("run") for s in steps if s.get("run")]
    assert runs == ["make setup", "bash examples/ci/fleet-preview.sh"], runs
    secrets = steps[-1]["env"]
    assert secrets["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert all(v.startswith("${{") for k, v in secrets.items() if k.startswith("NEON_"))
    assert gh["permissions"]["pull-requests"] == "write"
    gl = yaml.safe_load((repo_root / "examples" / "ci" / "gitlab-ci.yml").read_text())
    job = gl["fleet-preview"]
    assert "make setup" in job["before_script"]
    assert job["script"] == ["bash examples/ci/fleet-preview.sh"]
    assert job["variables"]["FORGE"] == "gitlab"
