"""Atomic JSON persistence of the World, coalesced in one writer thread.

Handlers only mark the state dirty; the writer serialises the latest World and replaces the
file with os.replace (atomic on POSIX), so a crash never leaves a half-written file and a
burst of mutations costs one write, not one per request (at most ~100 ms behind).
`flush()` writes synchronously (shutdown, reset, tests).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from neon_emulator.store.records import World


def load_world(path: Path) -> World | None:
    if not path.exists():
        return None
    return World.model_validate_json(path.read_bytes())


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Persister:
    def __init__(self, path: Path, snapshot: Callable[[], bytes],
                 min_interval: float = 0.1) -> None:
        self._path = path
        self._min_interval = min_interval
        self._snapshot = snapshot
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="emulator-persist", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def flush(self) -> None:
        with self._write_lock:
            self._dirty.clear()
            write_atomic(self._path, self._snapshot())

    def _run(self) -> None:
        """Write at most every `min_interval`: a burst of 1,000 creates costs a few writes
        instead of 1,000 serialisations of an ever larger World under the store lock."""
        while not self._stop.is_set():
            if self._dirty.wait(timeout=0.5):
                self.flush()
                self._stop.wait(self._min_interval)

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.flush()
