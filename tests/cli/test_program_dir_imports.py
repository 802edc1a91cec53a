"""Plain `pulumi` runs the program (and the dynamic-provider host) with `neon_tenants/` as the
working directory and first entry of sys.path (Pulumi.yaml `main: neon_tenants/`), so a
module or package directly in `neon_tenants/` named like a standard-library module replaces
it for every import in those processes: `neon_tenants/queue/` once broke every
`pulumi preview --stack free` (concurrent.futures imports `queue`)."""

from __future__ import annotations

import sys
from pathlib import Path


def test_no_top_level_module_of_the_program_dir_shadows_the_standard_library(
    repo_root: Path,
) -> None:
    program_dir = repo_root / "neon_tenants"
    names = {p.stem for p in program_dir.glob("*.py")} | {
        p.name for p in program_dir.iterdir() if (p / "__init__.py").exists()}
    shadowing = sorted(n for n in names if n in sys.stdlib_module_names and n != "__main__")
    assert shadowing == [], (
        f"neon_tenants/{shadowing[0]} hides the standard library's `{shadowing[0]}` from the "
        "Pulumi program and the dynamic-provider host (they run in neon_tenants/): rename it")
