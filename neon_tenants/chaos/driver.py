"""The process that drives the engine in one chaos case: one FleetManager call, then exit.

Run as `python -m neon_tenants.chaos.driver ROOT OP TENANT [ARG]` with the emulator's client
env; its process group is what the matrix kills with SIGKILL. Exit 0 on success, 1 on a
FleetError (its class and scrubbed message on stderr), 2 on anything else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from neon_tenants.automation import FleetError, FleetManager

NEON_VARS = ("NEON_API_BASE_URL", "NEON_CREDENTIALS_FILE")
OPS = (
    "provision",
    "upgrade",
    "downgrade",
    "undo",
    "snapshot",
    "dev_branch",
    "delete",
    "shard_up",
)


def manager(root: Path, neon_env: dict[str, str] | None = None) -> FleetManager:
    """The one layout every process of a case shares (stacks, work dir, state, locks)."""
    env = neon_env or {k: os.environ[k] for k in NEON_VARS if k in os.environ}
    return FleetManager(
        root / "stacks",
        work_dir=root / "work",
        backend_url=f"file://{root / 'state'}",
        lock_dir=root / "locks",
        neon_env=env,
        archive=False,  # the matrix's metadata emulator has no database to dump before delete
    )


def run(fm: FleetManager, op: str, tenant: str, arg: str = "") -> None:
    if op == "provision":
        fm.provision(tenant, arg or "free")
    elif op == "upgrade":
        fm.upgrade(tenant, arg or "pro")
    elif op == "downgrade":
        fm.downgrade(tenant, arg or "free")
    elif op == "undo":
        fm.restore(tenant, arg)
    elif op == "snapshot":
        fm.snapshot(tenant, arg or "s1")
    elif op == "dev_branch":
        fm.create_dev_branch(tenant, arg or "dev")
    elif op == "delete":
        fm.delete(tenant)
    elif op == "shard_up":
        fm.up(arg or "free")
    else:
        raise SystemExit(f"unknown op {op!r}; one of {', '.join(OPS)}")


def main(argv: list[str]) -> int:
    root, op, tenant = Path(argv[0]), argv[1], argv[2]
    arg = argv[3] if len(argv) > 3 else ""
    try:
        with manager(root) as fm:
            run(fm, op, tenant, arg)
    except FleetError as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - reported, the matrix counts it
        sys.stderr.write(f"unexpected {type(exc).__name__}: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
