"""Entry point: `python -m kutamo_identity` serves; `... migrate` applies the schema's migrations;
`python -m kutamo_identity tenants ...` administers.

Serving and administering need the schema current: with pending migrations they refuse to start and
say to run `migrate` first, unless MIGRATE_ON_START=true (decision 0005, upgrades). Started while PostgreSQL is
away, it waits for the database before that check instead of exiting (docs/operations.md).
"""

import asyncio
import os
import sys

from litestar import Litestar

from kutamo_identity import cli, server
from kutamo_identity.app import create_app
from kutamo_identity.config import ConfigError, from_env
from kutamo_identity.db import DATABASE
from kutamo_kit.logformat import configure as configure_logging
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
        # Serving waits for a database that is away (a restart); an administrator's command fails at once.
        prepare = DATABASE.migrations.prepare if argv else DATABASE.migrations.prepare_when_reachable
        asyncio.run(prepare(config.database_url, apply=config.migrate_on_start))
    except MigrationError as exc:
        sys.stderr.write(f"{PROGRAM}: {exc}\n")
        return 3
    if argv:
        return cli.main(argv, config)
    if config.processes == 1:
        return server.serve(create_app(config), host=config.host, port=config.port, workers=1)
    return server.serve(
        "kutamo_identity.__main__:worker_app",
        host=config.host,
        port=config.port,
        workers=config.processes,
        factory=True,
    )


def worker_app() -> Litestar:
    """The app of one worker process of several (a fresh interpreter): the same configuration, read again."""
    config = from_env(os.environ)
    configure_logging("identity", config.log_level)
    return create_app(config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
