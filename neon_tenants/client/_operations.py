"""Await the `operations[]` of a mutation (CONTRACT.md section 0, "Async operations").

Terminal and fine: finished, skipped, cancelled (Neon docs). `error` is terminal failure ->
OperationFailed at once. `failed` is NOT treated as terminal: Neon retries failed operations
server-side (`failures_count`, `retry_at`), so we keep polling; if it is still `failed` when
the timeout hits, that is reported as OperationFailed (not OperationTimeout), naming the op.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ._base import ApiBase, cursor_of
from .errors import OperationFailed, OperationTimeout
from .models.operations import TERMINAL_OK, Operation, OperationResponse, OperationsPage

OPS_ROUTE = "/projects/{project_id}/operations"
OP_ROUTE = "/projects/{project_id}/operations/{operation_id}"


class _WithOperations(Protocol):
    @property
    def operations(self) -> Sequence[Operation]: ...


R = TypeVar("R", bound=_WithOperations)


class OperationsMixin(ApiBase):
    """get / iterate / wait for a project's operations."""

    def get_operation(self, project_id: str, operation_id: str) -> Operation:
        path = {"project_id": project_id, "operation_id": operation_id}
        return self._call("GET", OP_ROUTE, OperationResponse, path=path).operation

    def iter_operations(self, project_id: str) -> Iterator[Operation]:
        """All operations of a project, newest first, following `pagination.cursor`."""
        return self._pages(
            OPS_ROUTE,
            OperationsPage,
            lambda page: page.operations,
            cursor_of,
            path={"project_id": project_id},
            limit=self.config.operations_page_size,
        )

    def wait_for_operations(
        self,
        project_id: str,
        ops: Iterable[Operation],
        timeout: float | None = None,
    ) -> list[Operation]:
        """Poll until every operation is terminal; return their final states."""
        core = self._core
        cfg = self.config
        limit = cfg.operation_timeout if timeout is None else timeout
        deadline = core._clock() + limit
        current = {op.id: op for op in ops}
        delay = cfg.operation_poll_initial
        while True:
            pending = [op for op in current.values() if op.status not in TERMINAL_OK]
            for op in pending:
                if op.status == "error":
                    raise OperationFailed(op.id, op.action, op.status, op.error)
            if not pending:
                return list(current.values())
            if core._clock() >= deadline:
                _raise_timeout(project_id, pending, limit)
            core._sleep(min(delay, max(deadline - core._clock(), 0.0)))
            delay = min(cfg.operation_poll_max, max(delay * 1.5, 0.01))
            for op in pending:
                current[op.id] = self.get_operation(project_id, op.id)

    def _wait(self, project_id: str, ops: Sequence[Operation], wait: bool) -> None:
        """Helper for mutations: wait unless the caller said wait=False."""
        if wait and ops:
            self.wait_for_operations(project_id, ops)

    def _waited(self, project_id: str, result: R, wait: bool) -> R:
        """A mutation's reply, after waiting for its `operations` (unless wait=False)."""
        self._wait(project_id, result.operations, wait)
        return result

    def _delete(
        self,
        project_id: str,
        route: str,
        path: dict[str, str],
        parse: Callable[[Any], R],
        wait: bool,
    ) -> R | None:
        """DELETE whose 204 means "already gone" (-> None); otherwise wait like any mutation."""
        data = self._call_json("DELETE", route, path=path)
        return None if data is None else self._waited(project_id, parse(data), wait)


def _raise_timeout(project_id: str, pending: list[Operation], limit: float) -> None:
    for op in pending:
        if op.status == "failed":
            raise OperationFailed(op.id, op.action, op.status, op.error)
    raise OperationTimeout(project_id, [(op.id, op.action, op.status) for op in pending], limit)
