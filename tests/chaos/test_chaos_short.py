"""The short fault matrix (`make test`): every emulator fault profile at least once and three
seeded `kill -9` points, each followed by reruns and `audit`; the full matrix is
`make chaos` (docs/RELIABILITY.md). The targets are the issue's: zero duplicate, orphan and
lost tenants, no plaintext secret in state, converged within two reruns, audit consistent.

Seeded (NEON_TENANTS_CHAOS_SEED, default 14): a failure names its seed and case, and
`python -m neon_tenants.chaos --seed N --only OP:PROFILE` replays it.
"""

from __future__ import annotations

import os

import pytest

from neon_tenants.chaos.matrix import Case, CaseResult, cases, run_case

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SEED = int(os.environ.get("NEON_TENANTS_CHAOS_SEED", "14"))
SHORT = cases("short")


def test_short_profile_covers_every_fault_profile_and_kill_points() -> None:
    profiles = {c.profile for c in SHORT}
    assert profiles >= {"errors", "locked", "drop", "latency", "restart", "kill9"}
    assert sum(c.profile == "kill9" for c in SHORT) >= 3
    assert any(c.op == "shard_up" for c in SHORT)


@pytest.mark.parametrize("case", SHORT, ids=[f"{c.op}-{c.profile}" for c in SHORT])
def test_case_converges_clean(case: Case) -> None:
    result: CaseResult = run_case(case, SEED)
    detail = f"seed {SEED}, replay: python -m neon_tenants.chaos --seed {SEED} --only " + (
        f"{result.op}:{result.profile}\n{result.to_dict()}"
    )
    assert result.converged and result.reruns <= 2, detail
    assert (result.duplicates, result.orphans, result.lost) == (0, 0, 0), detail
    assert result.plaintext_secrets == 0, detail
    assert result.audit_consistent and not result.check_failures, detail
    assert result.ops_completed == result.ops_expected, detail
    if case.profile == "kill9":
        assert result.killed_at is not None or result.first_run_ok, detail
