"""Command line: `python -m kutamo_dev.emulator --port N [--host H] [--public-url URL]`."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence

import uvicorn

from kutamo_dev.emulator.app import create_app

_log = logging.getLogger("kutamo_dev.emulator")


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kutamo_dev.emulator",
        description="Local emulator of Microsoft login (Entra ID) and Graph endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument(
        "--public-url",
        default=None,
        help="base URL clients use, for jwks_uri behind a proxy (default: request host)",
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Bind first so the logged URL carries the real port, even when the OS chose it."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    _log.info("emulator.listening url=http://%s:%d public_url=%s", host, port, args.public_url or "-")
    # Access logs are off: they add noise and carry nothing tests need (no tokens are ever logged).
    config = uvicorn.Config(create_app(public_url=args.public_url), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
