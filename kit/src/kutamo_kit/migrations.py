"""Schema migrations: plain SQL files of a package, applied in name order, each in its own transaction.

Each service owns one schema and one `<schema>.schema_migrations` table recording every applied file
with the SHA-256 of its text. Applying takes an advisory lock, so instances started together apply a
file once. A file that changed after it was applied is refused, by name: a database must never differ
from what the code's files say. Databases migrated before checksums were kept are adopted: the first
run records the checksum of each file already applied as it is at that moment, and checks from then on.

Starting a service never applies migrations unless told to (MIGRATE_ON_START=true): `prepare` refuses
to start a service whose schema is behind, naming the command that applies them (decision 0005).
A service started while PostgreSQL is away waits for it (`prepare_when_reachable`) instead of exiting.
"""

import asyncio
import hashlib
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from importlib.abc import Traversable

import asyncpg

from kutamo_kit.config import ConfigError
from kutamo_kit.outages import database_unavailable, describe
from kutamo_kit.settings import DATABASE_URL

__all__ = ["ChangedMigration", "MigrationError", "Migrations", "SchemaBehind", "command"]

log = logging.getLogger("kutamo_kit.migrations")


class MigrationError(Exception):
    """The database's schema does not match this version's migration files; the message says what to do."""


class ChangedMigration(MigrationError):
    pass


class SchemaBehind(MigrationError):
    pass


class Migrations:
    def __init__(self, *, schema: str, package: str, lock_id: int, command: str) -> None:
        self.schema = schema
        self.package = package
        self.command = command
        self._lock_id = lock_id
        # The schema is a constant of the service's code, never input: composing SQL with it is safe.
        self._table = f"{schema}.schema_migrations"
        self._record = f"insert into {self._table} (name, checksum) values ($1, $2)"  # noqa: S608
        self._adopt_one = f"update {self._table} set checksum = $2 where name = $1"  # noqa: S608
        self._recorded = f"select * from {self._table}"  # noqa: S608
        self._unrecorded = f"select name from {self._table} where checksum is null"  # noqa: S608

    def files(self) -> list[Traversable]:
        found = (f for f in resources.files(self.package).iterdir() if f.name.endswith(".sql"))
        return sorted(found, key=lambda f: f.name)

    async def apply(self, conn: asyncpg.Connection) -> list[str]:
        """Apply the files not yet applied, as the login role (it owns the schema); return their names."""
        applied: list[str] = []
        await conn.execute("set role none")  # a pool connection acts as the app role; the owner migrates
        await conn.execute("select pg_advisory_lock($1)", self._lock_id)
        try:
            await conn.execute(f"create schema if not exists {self.schema}")
            await conn.execute(
                f"create table if not exists {self._table} (name text primary key,"
                " applied_at timestamptz not null default now(), checksum text)"
            )
            await conn.execute(f"alter table {self._table} add column if not exists checksum text")
            await self._adopt(conn)
            for file in await self._pending(conn):
                async with conn.transaction():
                    await conn.execute(file.read_text())
                    await conn.execute(self._record, file.name, _checksum(file))
                applied.append(file.name)
                log.info("migration applied", extra={"migration": file.name})
        finally:
            await conn.execute("select pg_advisory_unlock($1)", self._lock_id)
            await conn.execute("reset role")
        return applied

    async def pending(self, conn: asyncpg.Connection) -> list[str]:
        """The names of the files not yet applied (nothing is changed); a changed applied file is refused."""
        exists = await conn.fetchval("select to_regclass($1) is not null", self._table)
        return [f.name for f in await self._pending(conn)] if exists else [f.name for f in self.files()]

    async def apply_to(self, database_url: str) -> list[str]:
        """Apply the pending files on a connection of its own (the `migrate` command)."""
        conn: asyncpg.Connection = await asyncpg.connect(database_url, server_settings={"search_path": self.schema})
        try:
            return await self.apply(conn)
        finally:
            await conn.close()

    async def prepare(self, database_url: str, *, apply: bool) -> list[str]:
        """Before a service starts: apply what is pending (`apply`), or refuse when anything is."""
        if apply:
            return await self.apply_to(database_url)
        conn: asyncpg.Connection = await asyncpg.connect(database_url)
        try:
            waiting = await self.pending(conn)
        finally:
            await conn.close()
        if waiting:
            raise SchemaBehind(
                f"the {self.schema} schema is behind this version: {len(waiting)} migration(s) not applied "
                f"({', '.join(waiting)}). Run `{self.command}` with the same DATABASE_URL first (read "
                "decision 0005 on upgrades), or set MIGRATE_ON_START=true to apply them at start."
            )
        return []

    async def prepare_when_reachable(
        self,
        database_url: str,
        *,
        apply: bool,
        max_delay: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> list[str]:
        """`prepare`, waiting while PostgreSQL is away (unreachable, starting up, shutting down): a service
        started during a database restart starts once it is back, rather than exiting into a crash loop.
        Tried again after 0.5 s, doubling up to `max_delay`, for as long as it takes; logged once when the
        wait starts and once when it ends. Anything else (a wrong password, a schema behind) fails at once."""
        delay, since = 0.5, None
        while True:
            try:
                applied = await self.prepare(database_url, apply=apply)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                if not (isinstance(exc, (OSError, TimeoutError)) or database_unavailable(exc)):
                    raise
                if since is None:
                    since = time.monotonic()
                    log.warning(
                        "database unavailable at start: waiting for it",
                        extra={"reason": describe(exc), "schema": self.schema, "retry_max_seconds": max_delay},
                    )
                await sleep(delay)
                delay = min(delay * 2, max_delay)
                continue
            if since is not None:
                log.warning(
                    "database available: starting",
                    extra={"schema": self.schema, "waited_seconds": round(time.monotonic() - since, 1)},
                )
            return applied

    async def _adopt(self, conn: asyncpg.Connection) -> None:
        """Record the checksums of files an older runner applied without one (see the module's note)."""
        unrecorded = {r["name"] for r in await conn.fetch(self._unrecorded)}
        adopted = [f for f in self.files() if f.name in unrecorded]
        for file in adopted:
            await conn.execute(self._adopt_one, file.name, _checksum(file))
        if adopted:
            log.info("migration checksums recorded for files applied before", extra={"migrations": len(adopted)})

    async def _pending(self, conn: asyncpg.Connection) -> list[Traversable]:
        # select *: a table of the runner before checksums has no checksum column until `apply` adds it
        recorded = {r["name"]: r.get("checksum") for r in await conn.fetch(self._recorded)}
        pending = []
        for file in self.files():
            if file.name not in recorded:
                pending.append(file)
            elif recorded[file.name] is not None and recorded[file.name] != _checksum(file):
                raise ChangedMigration(
                    f"migration {file.name} of the {self.schema} schema was changed after it was applied to this "
                    "database. Applied migrations must never change: restore the file as it was and put the "
                    "change in a new migration."
                )
        return pending


def _checksum(file: Traversable) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def command(migrations: Migrations, environ: Mapping[str, str], program: str) -> int:
    """`python -m <service> migrate`: apply the pending files, print their names as JSON; needs DATABASE_URL."""
    try:
        database_url = DATABASE_URL.read(environ) if DATABASE_URL.raw(environ) else ""
    except ConfigError as exc:
        sys.stderr.write(f"{program}: configuration error: {exc}\n")
        return 2
    if not database_url:
        sys.stderr.write(f"{program}: configuration error: DATABASE_URL is required\n")
        return 2
    try:
        applied = asyncio.run(migrations.apply_to(database_url))
    except MigrationError as exc:
        sys.stderr.write(f"{program}: {exc}\n")
        return 1
    sys.stdout.write(json.dumps({"schema": migrations.schema, "applied": applied}) + "\n")
    return 0
