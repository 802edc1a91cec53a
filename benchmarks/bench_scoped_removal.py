"""What a scoped removal pays for reading the state first (issue 16's scoped `up`).

A scoped `up` that removes URNs (a dev branch delete, a tenant delete) reads the stack's state
(`_scoped._targets_and_outputs`: one `stack export`) so it targets only the URNs the state
holds, and takes the stack's outputs from that export instead of the `stack output` process
every scoped `up` runs: the same number of CLI processes. Per shard size (default 10 and 100
tenants, one stack, metadata emulator, rate limits off), side by side in one run, p50 of
`--samples`:
- `create_dev_branch` (removes nothing: reads the outputs) and `delete_dev_branch` (reads
  the export);
- the two reads alone: `stack export` (`_nochange.state_of`) and `stack output`
  (`Engine.outputs`).

Run: `python -m benchmarks.bench_scoped_removal [--sizes 10 100] [--samples 3]`
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from neon_emulator.testing import EmulatorProcess
from neon_tenants.automation._nochange import state_of

from ._breakdown import Stamps
from ._fleet_harness import CONFIG, line, timed
from .bench_shard_size import TIER, manager, seed


def one_size(emu: object, root: Path, n: int, samples: int) -> dict[str, object]:
    with manager(root, emu, Stamps()) as fm:
        seed(fm, n)
        tenant = "t-0000"
        creates, deletes, exports, outputs = [], [], [], []
        for i in range(samples):
            creates.append(timed(lambda i=i: fm.create_dev_branch(tenant, f"b{i}")))
            deletes.append(timed(lambda i=i: fm.delete_dev_branch(tenant, f"b{i}")))
            exports.append(timed(lambda: state_of(fm.engine, TIER)))
            outputs.append(timed(lambda: fm.engine.outputs(TIER)))
        create = line(f"create_dev_branch_{n}", creates)
        delete = line(f"delete_dev_branch_{n}", deletes, create)
        export = line(f"stack_export_{n}", exports)
        output = line(f"stack_output_{n}", outputs, export)
    return {"tenants": n, "create_ms": round(create), "delete_ms": round(delete),
            "export_ms": round(export), "output_ms": round(output)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with EmulatorProcess(root / "emu", config=CONFIG) as emu:
            rows = [one_size(emu, root / f"size-{n}", n, args.samples) for n in args.sizes]
    for row in rows:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
