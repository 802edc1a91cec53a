"""EmulatorProcess: the emulator as a subprocess, for tests, benchmarks and `make run`.

A subprocess (not a thread) so that tests exercise the real server, signals and restart
persistence exactly as users run it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorProcess:
    def __init__(
        self, data_dir: str | Path, port: int = 0, config: dict[str, Any] | None = None,
        *, startup_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.config = config
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / "emulator.log"

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v2"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def ca_file(self) -> Path:
        """The emulator's CA certificate (sslrootcert for verify-ca/verify-full)."""
        return self.data_dir / "ca.pem"

    @property
    def client_env(self) -> dict[str, str]:
        """The two variables that point a Neon client at this emulator (ARCHITECTURE.md,
        "Credentials": the client reads the same names for real Neon)."""
        return {
            "NEON_API_BASE_URL": self.base_url,
            "NEON_CREDENTIALS_FILE": str(self.credentials_file),
        }

    @property
    def credentials(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.credentials_file.read_text())
        return data

    def start(self) -> EmulatorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "neon_emulator", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        if self.config is not None:
            cfg = self.data_dir / "emulator-config.json"
            cfg.write_text(json.dumps(self.config))
            cmd += ["--config", str(cfg)]
        log = open(self._log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.root_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"emulator not ready after {self.startup_timeout}s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc is not None else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=10)

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        """Call the developer API (`/_emulator/...`) and return the decoded JSON."""
        url = f"{self.root_url}/_emulator/{path.lstrip('/').removeprefix('_emulator/')}"
        resp = httpx.request(method, url, json=json, timeout=30.0)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
