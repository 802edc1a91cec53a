#!/usr/bin/env bash
# The fleet preview of a pull/merge request as ONE comment on it, updated on every push.
#
# The shell steps of examples/ci/github-actions.yml and examples/ci/gitlab-ci.yml (the tests
# run this very script against the emulator, so the examples cannot rot). Run it from the
# repository root after `make setup`:
#
#   neon-tenants preview --markdown  ->  exit 0 no changes, 2 changes, 1 error
#   post or update the comment (examples/ci/post_comment.py, found by a hidden marker)
#   exit 0 on 0 and 2, exit 1 otherwise: only a failed preview fails the job
#
# Environment (from the CI's secrets and variables, never from the repository):
#   Neon:    NEON_CREDENTIALS_FILE, or NEON_PERSONAL_API_KEY, NEON_FREE_ORG_ID,
#            NEON_FREE_ORG_API_KEY, NEON_PAID_ORG_ID, NEON_PAID_ORG_API_KEY (NEON_API_BASE_URL
#            defaults to https://console.neon.tech/api/v2)
#   Pulumi:  PULUMI_BACKEND_URL (the state the deploys use) and PULUMI_CONFIG_PASSPHRASE
#   Forge:   see post_comment.py (GitHub: GITHUB_TOKEN, GITHUB_REPOSITORY, PR_NUMBER;
#            GitLab: GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID)
# A comment that cannot be posted is a warning, not a failure: the preview decides the job.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source scripts/env.sh

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
neon-tenants preview --markdown >"$out/preview.md" 2>"$out/stderr.txt"
rc=$?
cat "$out/stderr.txt" >&2  # progress and errors, for the job log
if [ ! -s "$out/preview.md" ]; then
    # the tool did not even get to write its markdown (not installed, crashed early)
    {
        printf '### Fleet preview: error\n\n`neon-tenants preview` exited %s:\n\n```\n' "$rc"
        tail -n 20 "$out/stderr.txt"
        printf '```\n'
    } >"$out/preview.md"
fi
cat "$out/preview.md"

if ! python3 "$here/post_comment.py" "$out/preview.md"; then
    echo "warning: the preview comment could not be posted (see above)" >&2
fi

case "$rc" in
    0) echo "fleet preview: no changes" >&2; exit 0 ;;
    2) echo "fleet preview: changes (see the comment)" >&2; exit 0 ;;
    *) echo "fleet preview failed (exit $rc)" >&2; exit 1 ;;
esac
