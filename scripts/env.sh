# shellcheck shell=bash
# The offline Pulumi environment for neon-tenants. Source it: `source scripts/env.sh`.
#
# It mirrors neon_tenants/_env.py (pulumi_env), which the Automation API layer and the tests
# use; keep the two in step. Values the user already set win, except PATH, which gets the
# engine cache and the project virtualenv in front (once).

_nt_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export NEON_TENANTS_PULUMI_VERSION=3.274.1
export NEON_TENANTS_CACHE_ROOT="${NEON_TENANTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/neon-tenants}"
export NEON_TENANTS_PULUMI_BIN="$NEON_TENANTS_CACHE_ROOT/pulumi-v$NEON_TENANTS_PULUMI_VERSION/bin"
export NEON_TENANTS_STATE_DIR="$_nt_repo/.state"

export PULUMI_HOME="${PULUMI_HOME:-$NEON_TENANTS_CACHE_ROOT/pulumi-home}"
# PostgreSQL mode (NEON_TENANTS_DATABASE_URL set): state goes to that database unless the user
# names a backend; neon_tenants/_env.py builds the postgres:// URL (password kept out of it).
if [ -n "${PULUMI_BACKEND_URL:-}" ] || [ -z "${NEON_TENANTS_DATABASE_URL:-}" ]; then
    export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$NEON_TENANTS_STATE_DIR/pulumi}"
    case "$PULUMI_BACKEND_URL" in
        file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;;
    esac
fi
# pg_dump/pg_restore 17 with TLS (bootstrap section 5): Neon's default major in the emulator (#15)
export NEON_TENANTS_PG_BIN_DIRS="${NEON_TENANTS_PG_BIN_DIRS:-$NEON_TENANTS_CACHE_ROOT/postgres/17/bin}"
mkdir -p "$PULUMI_HOME" "$NEON_TENANTS_CACHE_ROOT"

# Local stacks only: a fixed passphrase unless the user chose one (value or file).
if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=neon-tenants-local
fi
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Dynamic providers run in `python -m pulumi.dynamic` started by pulumi-resource-pulumi-python:
# it must be the project's python, where neon_tenants is installed.
export PULUMI_PYTHON_CMD="${PULUMI_PYTHON_CMD:-$_nt_repo/.venv/bin/python}"

for _nt_dir in "$_nt_repo/.venv/bin" "$NEON_TENANTS_PULUMI_BIN"; do
    case ":$PATH:" in
        *":$_nt_dir:"*) ;;
        *) PATH="$_nt_dir:$PATH" ;;
    esac
done
export PATH
unset _nt_repo _nt_dir
