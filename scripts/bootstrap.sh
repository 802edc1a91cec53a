#!/usr/bin/env bash
# Idempotent toolchain setup for neon-tenants (issue 2). Safe to run again: every step checks
# first and skips when its result is already there, so a warm run takes seconds.
#
#   1. PostgreSQL 15 + pgbouncer (apt) when missing: the emulator runs real clusters.
#   2. <repo>/.venv with `pip install -e '.[dev]'`, skipped while pyproject.toml is unchanged.
#   3. The Pulumi engine, offline: a `pulumi` of the pinned version on PATH, else the per-user
#      cache, else a build from Go modules (tools/pulumi-build) plus our own language host
#      (tools/pulumi-language-python) and Pulumi's two Python shims from the sdk/v3 module.
#   4. The pulumi-command plugin, when its Go module is served (it is not, here: a note only).
#
# Nothing is downloaded except through the Go module proxy, PyPI and apt
# (see /work/shared/PULUMI_OFFLINE.md for why the official installers cannot be used).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$REPO/scripts/env.sh"

now() { date +%s.%N; }
T0=$(now)
step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- 1. PostgreSQL 15 + pgbouncer
PG_BIN=/usr/lib/postgresql/15/bin
ensure_postgres() {
    step "PostgreSQL 15 + pgbouncer"
    if [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] && command -v pgbouncer >/dev/null \
        && command -v psql >/dev/null; then
        note "present: $("$PG_BIN/postgres" --version), $(pgbouncer --version 2>/dev/null | head -1)"
        return
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "error: PostgreSQL 15 / pgbouncer missing and not root; run as root:" >&2
            echo "  apt-get install -y postgresql-15 postgresql-client-15 pgbouncer" >&2
            exit 1
        fi
    fi
    local t; t=$(now)
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when apt does not know the package yet.
    if ! apt-cache show postgresql-15 >/dev/null 2>&1 || ! apt-cache show pgbouncer >/dev/null 2>&1; then
        note "apt-get update"
        $sudo apt-get update -qq
    fi
    note "apt-get install postgresql-15 postgresql-client-15 pgbouncer"
    $sudo apt-get install -y -qq postgresql-15 postgresql-client-15 pgbouncer >/dev/null
    note "installed in $(elapsed "$t")s: $("$PG_BIN/postgres" --version)"
}

# ---------------------------------------------------------------- 2. the project virtualenv
ensure_venv() {
    step "virtualenv $REPO/.venv"
    local stamp="$REPO/.venv/.neon-tenants-pyproject.sha256"
    local want; want=$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)
    if [ -x "$REPO/.venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
        && "$REPO/.venv/bin/python" -c 'import neon_tenants' 2>/dev/null; then
        note "up to date (pyproject.toml unchanged)"
        return
    fi
    local t; t=$(now)
    if [ ! -x "$REPO/.venv/bin/python" ]; then
        note "python3 -m venv .venv ($(python3 --version))"
        python3 -m venv "$REPO/.venv"
    fi
    note "pip install -e '.[dev]'"
    "$REPO/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO[dev]"
    echo "$want" >"$stamp"
    note "done in $(elapsed "$t")s"
}

# ---------------------------------------------------------------- 3. the Pulumi engine
ENGINE_FILES=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python
    pulumi-resource-pulumi-python-sdk)
GO_BUILD_FLAGS=(-trimpath -tags osusergo,grpcnotrace)

engine_complete() {
    local f
    for f in "${ENGINE_FILES[@]}"; do [ -x "$NEON_TENANTS_PULUMI_BIN/$f" ] || return 1; done
}

ensure_engine() {
    step "Pulumi engine v$NEON_TENANTS_PULUMI_VERSION"
    local onpath
    onpath=$(PATH="${PATH#"$NEON_TENANTS_PULUMI_BIN:"}" command -v pulumi || true)
    if [ -n "$onpath" ] && [ "$(dirname "$onpath")" != "$NEON_TENANTS_PULUMI_BIN" ] \
        && [ "$("$onpath" version 2>/dev/null)" = "v$NEON_TENANTS_PULUMI_VERSION" ] \
        && [ -x "$(dirname "$onpath")/pulumi-language-python" ]; then
        note "using $onpath (pinned version already installed)"
        return
    fi
    if engine_complete; then
        if [ "$(cat "$NEON_TENANTS_PULUMI_BIN/.helpers.sha256" 2>/dev/null)" != "$(helpers_hash)" ]; then
            install_helpers "$NEON_TENANTS_PULUMI_BIN"
        fi
        note "cached in $NEON_TENANTS_PULUMI_BIN"
        return
    fi
    command -v go >/dev/null || { echo "error: Go is needed to build the engine" >&2; exit 1; }
    local t; t=$(now)
    local out="$NEON_TENANTS_PULUMI_BIN.partial"
    rm -rf "$out"; mkdir -p "$out"
    export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"
    (
        cd "$REPO/tools/pulumi-build"
        note "go build pulumi (first build: ~300 modules, 5-30 min on 2 cores)"
        go build "${GO_BUILD_FLAGS[@]}" \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$NEON_TENANTS_PULUMI_VERSION" \
            -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    )
    install_helpers "$out"
    rm -rf "$NEON_TENANTS_PULUMI_BIN"
    mv "$out" "$NEON_TENANTS_PULUMI_BIN"
    note "built in $(elapsed "$t")s into $NEON_TENANTS_PULUMI_BIN ($(du -sh "$NEON_TENANTS_PULUMI_BIN" | cut -f1))"
}

# The helpers beside `pulumi`: our language host (it shares the CLI's module list through
# -modfile, so it builds from the same cache), Pulumi's two Python shims from the sdk/v3
# module, and our wrapper around the dynamic-provider shim. Reinstalled whenever their
# sources change (the hash is kept beside them), without rebuilding the CLI.
helpers_hash() {
    cat "$REPO"/tools/pulumi-language-python/*.go \
        "$REPO"/tools/pulumi-language-python/pulumi-resource-pulumi-python \
        "$REPO"/tools/pulumi-build/go.mod "$REPO"/tools/pulumi-build/go.sum \
        | sha256sum | cut -d' ' -f1
}
install_helpers() {
    local dest="$1" sdk
    command -v go >/dev/null || { echo "error: Go is needed to build the language host" >&2; exit 1; }
    note "go build pulumi-language-python (our own host, tools/pulumi-language-python)"
    (
        cd "$REPO/tools/pulumi-language-python"
        CGO_ENABLED=0 go build -modfile=../pulumi-build/go.mod "${GO_BUILD_FLAGS[@]}" \
            -ldflags "-s -w -X main.version=v$NEON_TENANTS_PULUMI_VERSION" \
            -o "$dest/pulumi-language-python" .
    )
    sdk=$(cd "$REPO/tools/pulumi-build" && go mod download -json \
        "github.com/pulumi/pulumi/sdk/v3@v$NEON_TENANTS_PULUMI_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$sdk" ] || { echo "error: sdk/v3 module not found in the Go module cache" >&2; exit 1; }
    # Module-cache files are read-only and lose their execute bit: install sets 0755.
    install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$dest/"
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" \
        "$dest/pulumi-resource-pulumi-python-sdk"
    install -m 0755 "$REPO/tools/pulumi-language-python/pulumi-resource-pulumi-python" "$dest/"
    helpers_hash >"$dest/.helpers.sha256"
}

# ---------------------------------------------------------------- 4. the pulumi-command plugin
COMMAND_VERSION=1.2.1
COMMAND_MODULE=github.com/pulumi/pulumi-command/provider
COMMAND_COMMIT=7f3eb6f3b77c  # v1.2.1 has no provider/v* tag (PULUMI_OFFLINE.md)
ensure_command_plugin() {
    step "pulumi-command plugin v$COMMAND_VERSION (optional)"
    local dir="$PULUMI_HOME/plugins/resource-command-v$COMMAND_VERSION"
    if [ -x "$dir/pulumi-resource-command" ]; then
        note "installed in $dir"
        return
    fi
    # Ask the proxy whether the module is served at all (403 here), at most once a day.
    local marker="$NEON_TENANTS_CACHE_ROOT/command-plugin.unavailable" why=""
    if [ -n "$(find "$marker" -mmin -1440 2>/dev/null)" ]; then
        why="$(cat "$marker")"
    elif ! why=$(cd "$REPO/tools/pulumi-build" && go list -m -json \
        "$COMMAND_MODULE@${NEON_TENANTS_COMMAND_REF:-$COMMAND_COMMIT}" 2>&1 >/dev/null); then
        case "$why" in
            *403*|*404*|*"not available"*) why="module not served by the Go proxy" ;;
            *) why="go list failed: $(printf '%s' "$why" | tail -1)" ;;
        esac
        printf '%s\n' "$why" >"$marker"
    else
        why=""
    fi
    if [ -n "$why" ]; then
        note "unavailable ($why): $COMMAND_MODULE; skipping (optional)"
        return
    fi
    local t tmp; t=$(now); tmp=$(mktemp -d)
    if GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath \
        -ldflags "-s -w -X $COMMAND_MODULE/pkg/version.Version=v$COMMAND_VERSION" \
        "$COMMAND_MODULE/cmd/pulumi-resource-command@${NEON_TENANTS_COMMAND_REF:-$COMMAND_COMMIT}"; then
        mkdir -p "$dir"
        install -m 0755 "$tmp/pulumi-resource-command" "$dir/"
        note "built in $(elapsed "$t")s into $dir"
    else
        note "build failed; pulumi_command resources will not work (not required)"
    fi
    rm -rf "$tmp"
}

# Neon's own TypeScript client (npm @neondatabase/api-client), used by one conformance test to
# show the emulator serves Neon's clients unchanged. Installed from the npm registry with the
# committed lock file; skipped when this machine has no node/npm.
ensure_ts_client() {
    step "Neon TypeScript client for the emulator conformance test"
    local dir="$REPO/tests/emulator/neon_ts_client"
    if ! command -v npm >/dev/null 2>&1; then
        note "npm not found: the test that runs Neon's own client will be skipped"
        return
    fi
    local stamp="$dir/node_modules/.lock-sha256" want
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        note "up to date"
        return
    fi
    local t; t=$(now)
    (cd "$dir" && npm ci --silent --no-audit --no-fund)
    printf '%s\n' "$want" >"$stamp"
    note "installed in $(elapsed "$t")s"
}

ensure_postgres
ensure_venv
ensure_engine
ensure_command_plugin
ensure_ts_client
step "bootstrap done in $(elapsed "$T0")s (state: $NEON_TENANTS_STATE_DIR, cache: $NEON_TENANTS_CACHE_ROOT)"
