"""Entry point: `python -m kutamo_identity` serves; `... migrate` applies the schema's migrations;
`python -m kutamo_identity tenants ...` administers.

Serving and administering need the schema current: with pending migrations they refuse to start and
say to run `migrate` first, unless MIGRATE_ON_START=true (decision 0005, upgrades).
"""

import asyncio
import os
import sys

import uvicorn

from kutamo_contracts.logformat import configure as configure_logging
from kutamo_identity import cli
from kutamo_identity.app import create_app
from kutamo_identity.config import ConfigError, from_env
from kutamo_identity.db import DATABASE
from kutamo_kit.migrations import MigrationError, command

PROGRAM = "kutamo-identity"


def main(argv: list[str]) -> int:
    if argv == ["migrate"]:
        configure_logging("identity", os.environ.get("LOG_LEVEL", "INFO").upper())
        return command(DATABASE.migrations, os.environ, PROGRAM)
    try:
        config = from_env(os.environ)
    except ConfigError as exc:
        sys.stderr.write(f"{PROGRAM}: configuration error: {exc}\n")
        return 2
    configure_logging("identity", config.log_level)
    try:
        asyncio.run(DATABASE.migrations.prepare(config.database_url, apply=config.migrate_on_start))
    except MigrationError as exc:
        sys.stderr.write(f"{PROGRAM}: {exc}\n")
        return 3
    if argv:
        return cli.main(argv, config)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_config=None, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
