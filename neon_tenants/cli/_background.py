"""The emulator as a background process, for plain `pulumi` in a shell (issue #17).

`neon-tenants` commands start the emulator for themselves; plain `pulumi up --stack free`
cannot, so `neon-tenants emulator start` leaves one running (detached: its own session, so
it outlives the command) and records it in `<data-dir>/background.json` (pid, port, URLs;
no key: the keys stay in `credentials.json`, which only the environment points to).
`emulator env` prints the two variables that point a shell at it, and `neon-tenants`
commands use it too instead of starting a second emulator on the same data dir.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from neon_emulator.testing import EmulatorProcess, free_port

STATE_FILE = "background.json"


@dataclass(frozen=True)
class Background:
    pid: int
    port: int
    data_dir: str

    @property
    def process(self) -> EmulatorProcess:
        """The same URLs and variables as an `EmulatorProcess` on that port and data dir
        (never started from here: it is only read)."""
        return EmulatorProcess(self.data_dir, port=self.port)

    @property
    def base_url(self) -> str:
        return self.process.base_url

    @property
    def client_env(self) -> dict[str, str]:
        return self.process.client_env


class EmulatorStartFailed(RuntimeError):
    """The background emulator exited or never answered /healthz; the message says why."""


def default_data_dir() -> Path:
    """`<project root>/.emulator`, the data dir `make run` and the CLI use too."""
    from neon_tenants.cli.stacks_cmds import project_root

    return project_root() / ".emulator"


def _alive(pid: int) -> bool:
    """A running process (a zombie left by a parent that does not reap counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _is_emulator(pid: int) -> bool:
    """Guard against a recycled pid: only ever signal a `neon_emulator` process."""
    try:
        return b"neon_emulator" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (not Linux): trust the record


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def running(data_dir: Path) -> Background | None:
    """The background emulator of `data_dir` if it is up; a stale record is removed."""
    state = data_dir / STATE_FILE
    try:
        bg = Background(**json.loads(state.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(bg.pid) and _is_emulator(bg.pid) and _healthy(bg.port):
        return bg
    if not (_alive(bg.pid) and _is_emulator(bg.pid)):
        state.unlink(missing_ok=True)
    return None


def start(data_dir: Path, port: int = 0, config: Path | None = None,
          timeout: float = 60.0) -> tuple[Background, bool]:
    """(the emulator, whether this call started it). Idempotent per data dir."""
    data_dir = data_dir.resolve()
    found = running(data_dir)
    if found is not None:
        return found, False
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    cmd = [sys.executable, "-m", "neon_emulator", "--port", str(port),
           "--data-dir", str(data_dir)]
    if config is not None:
        cmd += ["--config", str(config.resolve())]
    with open(data_dir / "emulator.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    bg = Background(pid=proc.pid, port=port, data_dir=str(data_dir))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmulatorStartFailed(f"the emulator exited with {proc.returncode}: "
                                      f"{_last_line(data_dir)} (log: {data_dir / 'emulator.log'})")
        if _healthy(port):
            (data_dir / STATE_FILE).write_text(json.dumps(asdict(bg)), encoding="utf-8")
            return bg, True
        time.sleep(0.2)
    stop_pid(proc.pid)
    raise EmulatorStartFailed(f"the emulator did not answer on port {port} within {timeout:.0f}s"
                              f" (log: {data_dir / 'emulator.log'})")


def _last_line(data_dir: Path) -> str:
    try:
        lines = (data_dir / "emulator.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no output"


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM (the emulator stops its clusters and saves state), SIGKILL after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def stop(data_dir: Path) -> Background | None:
    """Stop the background emulator of `data_dir`; None when none was running."""
    data_dir = data_dir.resolve()
    state = data_dir / STATE_FILE
    try:
        bg = Background(**json.loads(state.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if _alive(bg.pid) and _is_emulator(bg.pid):
        stop_pid(bg.pid)
    state.unlink(missing_ok=True)
    return bg
