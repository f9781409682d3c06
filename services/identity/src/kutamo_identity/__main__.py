"""Entry point: `python -m kutamo_identity` serves; `python -m kutamo_identity tenants ...` administers."""

import os
import sys

import uvicorn

from kutamo_contracts.logformat import configure as configure_logging
from kutamo_identity import cli
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
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
