"""Entry point: `python -m kutamo_identity` serves; `python -m kutamo_identity tenants ...` administers."""

import os
import sys

from litestar import Litestar

from kutamo_contracts.logformat import configure as configure_logging
from kutamo_identity import cli, server
from kutamo_identity.app import create_app
from kutamo_identity.config import ConfigError, from_env


def main(argv: list[str]) -> int:
    try:
        config = from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"kutamo-identity: configuration error: {exc}\n")
        return 2
    configure_logging("identity", config.log_level)
    if argv:
        return cli.main(argv, config)
    if config.web_concurrency == 1:
        return server.serve(create_app(config), host=config.host, port=config.port, workers=1)
    return server.serve(
        "kutamo_identity.__main__:worker_app",
        host=config.host,
        port=config.port,
        workers=config.web_concurrency,
        factory=True,
    )


def worker_app() -> Litestar:
    """The app of one worker process of several (a fresh interpreter): the same configuration, read again."""
    config = from_env(os.environ)
    configure_logging("identity", config.log_level)
    return create_app(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
