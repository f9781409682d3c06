"""Connections by login code, remembered by each identity process until an admin changes one.

A trigger on the connection, tenant and login-code tables sends NOTIFY kutamo_connections at commit
(migration 0021); every process LISTENs on a connection of its own and forgets everything it cached
when one arrives, so a disabled connection stops admitting sign-ins as soon as the notification
lands (milliseconds; the test allows a second). While the listening connection is down the cache is
not used at all: nothing stale is served because a notification could not arrive.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from kutamo_identity.tenants.repository import Connection, find_by_login_code
from kutamo_kit.outages import DATABASE_ERRORS

CHANNEL = "kutamo_connections"
_MAX_ENTRIES = 10_000

log = logging.getLogger(__name__)


class ConnectionCache:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._entries: dict[str, Connection] = {}
        self._generation = 0
        self._listening = False

    async def find(self, login_code: str, *, fresh: bool = False) -> Connection | None:
        """The connection behind a login code; `fresh` reads it from the database whatever is cached."""
        key = login_code.lower()
        if not fresh and self._listening and (found := self._entries.get(key)) is not None:
            return found
        generation = self._generation
        connection = await find_by_login_code(self._pool, login_code)
        # Only what no notification overtook while it was read, and only current codes: unknown ones are
        # never remembered, and an old code's grace period ends by the clock, with no change to notify.
        if (
            connection is not None
            and connection.login_code.lower() == key
            and self._listening
            and generation == self._generation
        ):
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = connection
        return connection

    def forget(self, *_: Any) -> None:
        self._generation += 1
        self._entries.clear()

    async def listen(self, retry_seconds: float = 1.0) -> None:
        """Keep a LISTEN connection open (run as a task); the cache works only while it is."""
        while True:
            lost = asyncio.Event()
            try:
                async with self._pool.acquire() as conn:
                    conn.add_termination_listener(lambda _, lost=lost: lost.set())
                    await conn.add_listener(CHANNEL, self.forget)
                    self.forget()
                    self._listening = True
                    try:
                        await lost.wait()
                    finally:
                        self._listening = False
                        self.forget()
                        with contextlib.suppress(asyncpg.InterfaceError, OSError, asyncpg.PostgresError):
                            await conn.remove_listener(CHANNEL, self.forget)
                log.warning("connection cache: lost its notifications, reading every lookup until back")
            except DATABASE_ERRORS as exc:
                log.warning("connection cache: cannot listen", extra={"error": type(exc).__name__})
            await asyncio.sleep(retry_seconds)
