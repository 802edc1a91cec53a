"""`python -m neon_emulator --port P --data-dir D [--config F]`."""

from __future__ import annotations

import argparse
import logging

from neon_emulator.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="neon_emulator", description="local Neon API")
    parser.add_argument("--port", type=int, default=4444)
    parser.add_argument("--data-dir", default=".emulator")
    parser.add_argument("--config", default=None, help="YAML/JSON emulator config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    serve(port=args.port, data_dir=args.data_dir, config_path=args.config)


if __name__ == "__main__":
    main()
