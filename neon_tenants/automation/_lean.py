"""Engine runs with fewer CLI processes: each one loads (and decrypts) the whole stack state.

`auto.Stack.create_or_select(...).up(...)` starts five `pulumi` processes: `stack select`,
`up`, then `stack output --json` twice (once to find which outputs are secret) and
`stack history` for a summary. With a 500-tenant shard each of them parses megabytes of
state, so they cost more than the one-tenant change itself (issue #16). `LeanStack` keeps the
SDK's inline-program machinery (its `up`/`preview`) and drops the extra processes:

- no `stack select`: every command names its stack (`--stack`); a stack that does not exist
  yet makes `up` fail with StackNotFoundError, and `run` creates it and runs again;
- outputs in one process (`Engine.outputs`: plaintext values; callers use the values only,
  the tenant outputs are secrets in the state either way);
- no `stack history` for a summary (`info` returns a placeholder): nothing here reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pulumi import automation as auto
from pulumi.automation._stack import StackInitMode

if TYPE_CHECKING:
    from neon_tenants.automation._workspace import Engine


class LeanStack(auto.Stack):
    """An `auto.Stack` bound to a stack by name, without the SDK's extra CLI calls."""

    def __init__(self, name: str, workspace: auto.Workspace,
                 read_outputs: Callable[[str], dict[str, Any]]) -> None:
        # deliberately not calling auto.Stack.__init__: it runs `pulumi stack select`
        self.name = name
        self.workspace = workspace
        self._mode = StackInitMode.SELECT
        self._read_outputs = read_outputs

    def outputs(self) -> auto.OutputMap:
        return {k: auto.OutputValue(v, False) for k, v in self._read_outputs(self.name).items()}

    def info(self, show_secrets: bool = True) -> auto.UpdateSummary:
        """A placeholder summary (the SDK requires one; nothing here reads it)."""
        now = datetime.now(UTC)
        return auto.UpdateSummary(kind="update", start_time=now, message="", environment={},
                                  config={}, result="succeeded", end_time=now)


def lean_stack(engine: Engine, name: str) -> LeanStack:
    engine.clear_stale_locks(name)
    return LeanStack(name, engine.workspace, engine.outputs)


def run(
    engine: Engine, name: str, op: Callable[[LeanStack], Any],
    read_outputs: Callable[[str], dict[str, Any]] | None = None,
) -> Any:
    """`op(stack)`; when the stack does not exist yet, create it and run `op` again.
    `read_outputs` replaces the `stack output` process when the caller knows the outputs."""
    engine.clear_stale_locks(name)
    stack = LeanStack(name, engine.workspace, read_outputs or engine.outputs)
    try:
        return op(stack)
    except auto.StackNotFoundError:
        try:
            engine.workspace.create_stack(name)
        except auto.StackAlreadyExistsError:
            pass  # another worker created it meanwhile (a shared backend): use theirs
        return op(stack)
