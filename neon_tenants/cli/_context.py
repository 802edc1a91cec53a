"""Build a FleetManager for the CLI: real Neon when credentials are set, else the emulator.

ARCHITECTURE.md: with no NEON_* credentials the tools start/use the local emulator, whose
data dir (`.emulator/`) keeps state between commands. `NEON_TENANTS_STACKS_DIR` points the
CLI at another stacks dir (its parent is the Pulumi work dir), e.g. in tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from neon_tenants.automation import FleetManager, ProgressCallback

_CREDENTIAL_VARS = (
    "NEON_CREDENTIALS_FILE",
    "NEON_PERSONAL_API_KEY",
    "NEON_FREE_ORG_API_KEY",
    "NEON_PAID_ORG_API_KEY",
)


def has_neon_credentials() -> bool:
    return any(os.environ.get(name) for name in _CREDENTIAL_VARS)


@contextmanager
def fleet_manager(
    on_event: ProgressCallback | None = None, emulator_dir: Path | None = None
) -> Iterator[FleetManager]:
    from neon_tenants.cli._background import default_data_dir
    from neon_tenants.cli.stacks_cmds import stacks_dir

    stacks = stacks_dir()
    common = {
        "work_dir": stacks.parent,
        "lock_dir": stacks.parent / ".state" / "locks",
        "on_event": on_event,
    }
    if has_neon_credentials():
        with FleetManager(stacks, **common) as fm:  # type: ignore[arg-type]
            yield fm
        return
    from neon_emulator.testing import EmulatorProcess
    from neon_tenants.cli._background import running

    data_dir = (emulator_dir or default_data_dir()).resolve()
    background = running(data_dir)
    if background is not None:  # `neon-tenants emulator start`: share it, never a second one
        with FleetManager(stacks, neon_env=background.client_env, **common) as fm:  # type: ignore[arg-type]
            yield fm
        return
    with (
        EmulatorProcess(data_dir) as emu,
        FleetManager(stacks, neon_env=emu.client_env, **common) as fm,  # type: ignore[arg-type]
    ):
        yield fm
