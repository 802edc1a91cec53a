"""`python -m neon_tenants.chaos [--profile short|full] [--seed N] [--out F] [--only OP:PROFILE]`.

Runs the matrix, prints one JSON line per case, writes the table (default
docs/RELIABILITY.md) and exits 1 when a case is not clean.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from neon_tenants.chaos.matrix import Case, CaseResult, cases, run_case
from neon_tenants.chaos.report import commit, render

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neon_tenants.chaos")
    parser.add_argument("--profile", choices=("short", "full"), default="full")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "RELIABILITY.md")
    parser.add_argument("--only", action="append", default=[], help="OP:PROFILE (repeatable)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    chosen = [Case(*o.split(":", 1)) for o in args.only] if args.only else cases(args.profile)
    results: list[CaseResult] = []
    for case in chosen:
        result = run_case(case, seed)
        results.append(result)
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        sys.stdout.flush()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        render(results, seed=seed, profile=args.profile, commit_id=commit(REPO)),
        encoding="utf-8",
    )
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
