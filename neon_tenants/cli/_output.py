"""The one place that chooses rich rendering (humans) or JSON (machines, `--json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from neon_tenants.automation.events import ProgressEvent, ResourceStep, StackProgress


class Output:
    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json
        self.console = Console(stderr=as_json, highlight=False)
        self.err = Console(stderr=True, highlight=False)

    def data(self, payload: Any) -> None:
        """Machine output on stdout (JSON) or a small table for humans."""
        if self.as_json:
            sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
            return
        if isinstance(payload, dict):
            table = Table(show_header=False, box=None)
            for key, value in payload.items():
                table.add_row(f"[bold]{key}[/]", str(value))
            self.console.print(table)
        else:
            self.console.print(payload)

    def text(self, message: str) -> None:
        if not self.as_json:
            self.console.print(message)

    def error(self, message: str, **extra: Any) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps({"error": message, **extra}, default=str) + "\n")
        else:
            self.err.print(f"[red]error:[/] {message}")

    @contextmanager
    def progress(self) -> Iterator[Any]:
        """A callback for FleetManager events: one bar per stack counting resource steps."""
        if self.as_json or not self.err.is_terminal:
            yield self._plain
            return
        bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} steps"),
            TimeElapsedColumn(),
            console=self.err,
            transient=False,
        )
        tasks: dict[str, Any] = {}

        def on_event(event: ProgressEvent) -> None:
            task = tasks.get(event.stack)
            if task is None:
                task = tasks[event.stack] = bars.add_task(event.stack, total=None)
            if isinstance(event, ResourceStep) and event.state != "started":
                bars.advance(task)
            elif isinstance(event, StackProgress):
                bars.update(task, description=f"{event.stack}: {event.phase} {event.message}")

        with bars:
            yield on_event

    def _plain(self, event: ProgressEvent) -> None:
        if isinstance(event, StackProgress) and not self.as_json:
            self.err.print(f"[dim]{event.stack}: {event.phase} {event.message}[/]")
