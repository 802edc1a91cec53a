"""Shared plumbing of the per-key API objects: one call = one HttpCore request + parsing."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from ._config import ClientConfig
from ._http import HttpCore, Key
from .models.operations import Pagination

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class _CursorPage(Protocol):
    @property
    def pagination(self) -> Pagination | None: ...


def cursor_of(page: _CursorPage) -> str | None:
    """Next cursor of a page in pagination style 1 (projects, operations, consumption)."""
    return page.pagination.cursor if page.pagination else None


class ApiBase:
    """Holds the transport core and the key every call of this object is made with."""

    def __init__(self, core: HttpCore, key: Key) -> None:
        self._core = core
        self._key = key

    @property
    def config(self) -> ClientConfig:
        return self._core.config

    def _call(
        self,
        method: str,
        route: str,
        model: type[M],
        *,
        path: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> M:
        """Send and parse the JSON reply into `model`."""
        response = self._core.request(method, route, self._key, path=path, params=params, json=json)
        return model.model_validate(response.json())

    def _call_json(
        self,
        method: str,
        route: str,
        *,
        path: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send; return the decoded JSON (None for an empty body such as 204)."""
        response = self._core.request(method, route, self._key, path=path, params=params, json=json)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _pages(
        self,
        route: str,
        page_model: type[M],
        items: Callable[[M], list[T]],
        next_cursor: Callable[[M], str | None],
        *,
        path: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[T]:
        """Follow cursors until an empty page, a missing cursor, or a repeated cursor."""
        query: dict[str, Any] = dict(params or {})
        if limit is not None:
            query["limit"] = limit
        seen: set[str] = set()
        while True:
            page = self._call("GET", route, page_model, path=path, params=query)
            batch = items(page)
            yield from batch
            cursor = next_cursor(page)
            if not batch or not cursor or cursor in seen:
                return
            if limit is not None and len(batch) < limit:
                return
            seen.add(cursor)
            query["cursor"] = cursor
