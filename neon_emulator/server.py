"""serve(): run the emulator in the foreground on 127.0.0.1 until Ctrl-C or SIGTERM.

Uvicorn handles both signals with a graceful shutdown; afterwards the runtime waits for
running operations, writes the state and stops every process the backend started.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import uvicorn

from neon_emulator.app import create_app
from neon_emulator.runtime import Runtime
from neon_emulator.settings import load_settings

log = logging.getLogger("neon_emulator")


def serve(*, port: int, data_dir: str | Path, config_path: str | Path | None = None) -> None:
    settings = load_settings(data_dir=data_dir, port=port, config_path=config_path)
    if not settings.host.startswith("127."):
        raise ValueError("the emulator binds loopback (127.0.0.0/8) only")
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    runtime.start()
    from neon_emulator.engine.expiry import ExpiryJob

    expiry = ExpiryJob(runtime)
    expiry.start()
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, timeout_graceful_shutdown=10)
    # uvicorn re-raises the captured signal after its graceful shutdown; with these no-op
    # handlers in place that re-raise returns, so the cleanup below always runs (exit 0).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        uvicorn.Server(config).run()
    finally:
        expiry.stop()
        runtime.close()
