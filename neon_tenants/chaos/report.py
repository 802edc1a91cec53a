"""docs/RELIABILITY.md: the matrix's table, with the seed and the commit it ran on."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from neon_tenants.chaos.matrix import MAX_RERUNS, PROFILES, CaseResult

_COLUMNS = (
    "operation",
    "profile",
    "first run",
    "reruns",
    "completed",
    "dup",
    "orphans",
    "lost",
    "plaintext",
    "audit",
    "non-FleetError",
    "converge s",
    "clean",
)


def commit(repo: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _first(r: CaseResult) -> str:
    if r.killed_at is not None:
        return f"killed at {r.killed_at:.1f}s"
    if r.restarted and not r.first_run_ok:
        return "failed (restart)"
    return "ok" if r.first_run_ok else "failed"


def render(results: list[CaseResult], *, seed: int, profile: str, commit_id: str) -> str:
    clean = sum(r.clean for r in results)
    totals = {
        "duplicates": sum(r.duplicates for r in results),
        "orphans": sum(r.orphans for r in results),
        "lost": sum(r.lost for r in results),
        "plaintext": sum(r.plaintext_secrets for r in results),
    }
    lines = [
        "# Reliability: the fault matrix",
        "",
        "Written by `make chaos` (`python -m neon_tenants.chaos`); do not edit by hand.",
        "",
        f"- profile: `{profile}`, seed: `{seed}` (replay: `python -m neon_tenants.chaos "
        f"--profile {profile} --seed {seed}`), commit: `{commit_id}`, "
        f"run: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- {clean}/{len(results)} cases clean (converged within 2 reruns, no duplicate, "
        "orphan or lost tenant, no plaintext secret in state, `audit` consistent, the "
        "operation's result read back from Neon, every failure a `FleetError`)",
        f"- totals: {totals['duplicates']} duplicate projects, {totals['orphans']} orphans, "
        f"{totals['lost']} lost tenants, {totals['plaintext']} state files with a plaintext "
        "secret",
        "",
        "Fault profiles (emulator, metadata compute: no database behind branches, so the "
        "archive-before-delete step is off; each case has its own emulator and state):",
        "`errors` 10 % 503 + 5 % 429 on every route; `locked` 423 windows of 1-2 s every 1-3 s "
        "on every project; `drop` act-then-drop on every create and on transfer; `latency` "
        "500 ms on every request; `restart` the emulator restarts once during the run; "
        "`kill9` SIGKILL of the engine-driving process group at a seeded moment. After a "
        f"failed or killed run the operation is rerun (faults still on, at most {MAX_RERUNS} "
        "times), then `audit` runs.",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    for r in results:
        audit = "ok" if r.audit_consistent else "; ".join(r.audit_problems) or "failed"
        row = (
            r.op,
            r.profile,
            _first(r),
            str(r.reruns) if r.converged else f"{r.reruns} (not converged)",
            f"{r.ops_completed}/{r.ops_expected}",
            str(r.duplicates),
            str(r.orphans),
            str(r.lost),
            str(r.plaintext_secrets),
            audit,
            str(r.unexpected_errors),
            f"{r.seconds_to_converge:.1f}",
            "yes" if r.clean else "NO",
        )
        lines.append("| " + " | ".join(row) + " |")
    notes = [r for r in results if not r.clean and (r.errors or r.check_failures)]
    if notes:
        lines += ["", "## Cases that are not clean", ""]
        for r in notes:
            detail = "; ".join([*r.check_failures, *r.errors[-2:]]).replace("\n", " ")
            lines.append(f"- `{r.op} x {r.profile}`: {detail[:600]}")
    assert set(PROFILES) >= {r.profile for r in results}
    return "\n".join(lines) + "\n"
