"""A tiny dynamic provider that proves the engine works end to end (tests/engine, doctor).

It manages one file per resource, so that create/read/delete have a real effect a test can
observe. It lives in the installed package on purpose: a provider class imported from a
module is pickled *by reference*, so the `__provider` blob in state stays small and
refresh/destroy run today's code (PULUMI_OFFLINE.md, "Dynamic-provider facts").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)


class FileMarkerProvider(ResourceProvider):
    """`directory/name` holds `content`; the id is that path."""

    # Nothing secret is captured, so keep the pickled provider readable in exported state
    # (the SDK's default encrypts it as a secret).
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = Path(props["directory"]) / props["name"]
        path.write_text(props["content"])
        return CreateResult(id_=str(path), outs={**props, "path": str(path)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # No I/O here: the engine calls diff for every resource on every preview.
        replaces = [k for k in ("directory", "name") if olds.get(k) != news.get(k)]
        changed = bool(replaces) or olds.get("content") != news.get("content")
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        Path(_id).write_text(news["content"])
        return UpdateResult(outs={**news, "path": _id})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        path = Path(id_)
        if not path.exists():
            return ReadResult(id_=None, outs={})  # gone: refresh drops it from state
        return ReadResult(id_=id_, outs={**props, "content": path.read_text(), "path": id_})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        Path(id_).unlink(missing_ok=True)


class FileMarker(Resource, module="selftest", name="FileMarker"):
    """A file managed by FileMarkerProvider (type `pulumi-python:dynamic/selftest:FileMarker`)."""

    path: pulumi.Output[str]
    content: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        directory: str,
        content: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"directory": directory, "name": name, "content": content, "path": None}
        super().__init__(FileMarkerProvider(), name, props, opts)
