"""Entry point: `python -m kutamo_provisioning` runs the consumer and the read API in one process."""

import os
import sys

import uvicorn

from kutamo_contracts import logformat
from kutamo_provisioning import cli
from kutamo_provisioning.config import ConfigError, from_env
from kutamo_provisioning.worker import create_app


def main() -> int:
    if len(sys.argv) > 1:
        return cli.main(sys.argv[1:], os.environ)
    try:
        config = from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"kutamo-provisioning: configuration error: {exc}\n")
        return 2
    logformat.configure("provisioning", config.log_level)
    # uvicorn turns SIGTERM/SIGINT into a graceful shutdown: the lifespan stops the consumer,
    # which finishes its batch and commits before closing.
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
