"""Entry point: `python -m kutamo_provisioning` runs the consumer and the read API in one process;
`... migrate` applies the schema's migrations; `... dead-letters ...` are operators' commands.

The worker needs its schema current: with pending migrations it refuses to start and says to run
`migrate` first, unless MIGRATE_ON_START=true (decision 0005, upgrades). Started while PostgreSQL is
away, it waits for the database before that check instead of exiting (docs/operations.md).
"""

import asyncio
import os
import sys

import uvicorn

from kutamo_kit import logformat
from kutamo_kit.migrations import MigrationError, command
from kutamo_provisioning import cli
from kutamo_provisioning.config import ConfigError, from_env
from kutamo_provisioning.db import DATABASE
from kutamo_provisioning.worker import create_app

PROGRAM = "kutamo-provisioning"


def main() -> int:
    if sys.argv[1:] == ["migrate"]:
        logformat.configure("provisioning", os.environ.get("LOG_LEVEL", "INFO").upper())
        return command(DATABASE.migrations, os.environ, PROGRAM)
    if len(sys.argv) > 1:
        return cli.main(sys.argv[1:], os.environ)
    try:
        config = from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"{PROGRAM}: configuration error: {exc}\n")
        return 2
    logformat.configure("provisioning", config.log_level)
    try:
        asyncio.run(DATABASE.migrations.prepare_when_reachable(config.database_url, apply=config.migrate_on_start))
    except MigrationError as exc:
        sys.stderr.write(f"{PROGRAM}: {exc}\n")
        return 3
    # uvicorn turns SIGTERM/SIGINT into a graceful shutdown: the lifespan stops the consumer,
    # which finishes its batch and commits before closing.
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
