"""Post or update ONE pull/merge-request comment with a markdown file (stdlib only).

    python3 examples/ci/post_comment.py preview.md

The comment carries a hidden marker (`<!-- neon-tenants-fleet-preview -->`); the first
comment with it is updated in place, else one is created, so a pull request never
collects a comment per push. The forge is GitHub or GitLab (`FORGE`, else detected from
GITHUB_ACTIONS / GITLAB_CI):

- GitHub: GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY (owner/name), PR_NUMBER,
  GITHUB_API_URL (set by Actions; default https://api.github.com).
- GitLab: GITLAB_TOKEN (a project access token with `api` scope; CI_JOB_TOKEN may not write
  notes), CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID (set by GitLab for MR pipelines).

Exit 0 when the comment is in place, 1 otherwise (the reason on one line on stderr). The
token is sent only in its header and never printed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

MARKER = "<!-- neon-tenants-fleet-preview -->"


class Forge:
    def __init__(self, api: str, headers: dict[str, str], list_path: str, item_path: str,
                 update_method: str) -> None:
        self.api = api.rstrip("/")
        self.headers = headers
        self.list_path = list_path
        self.item_path = item_path
        self.update_method = update_method

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.api + path, data=data, method=method, headers={
            "Accept": "application/json", "Content-Type": "application/json",
            "User-Agent": "neon-tenants-fleet-preview", **self.headers})
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - https API URL
            body = resp.read()
        return json.loads(body) if body else None

    def find(self) -> Any:
        page = 1
        while True:
            sep = "&" if "?" in self.list_path else "?"
            items = self.call("GET", f"{self.list_path}{sep}per_page=100&page={page}")
            for item in items or []:
                if MARKER in (item.get("body") or ""):
                    return item["id"]
            if not items or len(items) < 100:
                return None
            page += 1

    def upsert(self, body: str) -> str:
        found = self.find()
        if found is None:
            made = self.call("POST", self.list_path, {"body": body})
            return f"created comment {made.get('id')}"
        self.call(self.update_method, self.item_path.format(id=found), {"body": body})
        return f"updated comment {found}"


def _need(*names: str) -> list[str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise SystemExit(f"error: cannot post the comment: set {', '.join(missing)}")
    return [os.environ[n] for n in names]


def forge_from_env() -> Forge:
    kind = os.environ.get("FORGE") or (
        "github" if os.environ.get("GITHUB_ACTIONS") else
        "gitlab" if os.environ.get("GITLAB_CI") else "")
    if kind == "github":
        token, repo, pr = _need("GITHUB_TOKEN", "GITHUB_REPOSITORY", "PR_NUMBER")
        api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
        return Forge(api, {"Authorization": f"Bearer {token}",
                           "X-GitHub-Api-Version": "2022-11-28"},
                     f"/repos/{repo}/issues/{pr}/comments",
                     f"/repos/{repo}/issues/comments/{{id}}", "PATCH")
    if kind == "gitlab":
        token, api, project, mr = _need("GITLAB_TOKEN", "CI_API_V4_URL", "CI_PROJECT_ID",
                                        "CI_MERGE_REQUEST_IID")
        base = f"/projects/{urllib.parse.quote(project, safe='')}/merge_requests/{mr}/notes"
        return Forge(api, {"PRIVATE-TOKEN": token}, base, base + "/{id}", "PUT")
    raise SystemExit("error: cannot post the comment: set FORGE=github or FORGE=gitlab")


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        _say("usage: post_comment.py MARKDOWN_FILE")
        return 1
    with open(argv[1], encoding="utf-8") as fh:
        body = f"{MARKER}\n{fh.read()}"
    try:
        _say(forge_from_env().upsert(body))
    except urllib.error.HTTPError as exc:
        _say(f"error: the forge answered {exc.code} {exc.reason} for {exc.url}")
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        _say(f"error: cannot reach the forge: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
