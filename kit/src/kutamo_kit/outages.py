"""Whether PostgreSQL is away, as requests and health checks find it, and one log line per outage.

An outage is an unreachable server, or one shutting down, starting up or refusing connections for now
(asyncpg's connection errors and PostgreSQL's class 08 and 57P0x). It is logged once at warning when
first met and once when the database answers again, with how long it lasted: never per request.
"""

import logging
import time
from collections.abc import Callable

import asyncpg
from asyncpg import exceptions as pg

__all__ = [
    "DATABASE",
    "DATABASE_ERRORS",
    "DatabaseAway",
    "DatabaseOutage",
    "database_unavailable",
    "describe",
    "fold_pool_reconnect_logs",
]

log = logging.getLogger("kutamo_kit.outages")


class DatabaseAway(Exception):
    """Raised where a failure was found to be the database's absence (a probe failed), not the work's."""


_AWAY: tuple[type[BaseException], ...] = (
    DatabaseAway,
    ConnectionError,  # refused, reset: the server is not listening
    pg.PostgresConnectionError,  # class 08, and asyncpg's "connection was closed in the middle of operation"
    pg.CannotConnectNowError,  # 57P03: the database system is starting up / shutting down
    pg.AdminShutdownError,  # 57P01: terminating connection due to administrator command
    pg.CrashShutdownError,  # 57P02
)
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    pg.InternalClientError,  # see _MID_SHUTDOWN
)
"""What a database call raises when it fails (for loops that must outlive an outage: never a bare Exception)."""
_CLOSED = ("connection is closed", "connection was closed")
# A pooled connection that received PostgreSQL's FATAL "terminating connection" while idle waits for a
# ReadyForQuery that never comes; taken before its socket is seen closing, it refuses the next statement
# with this (seen once in the fault test's PostgreSQL restart, as a 500 on the login page).
_MID_SHUTDOWN = "another operation"


def database_unavailable(exc: BaseException) -> bool:
    """The exception (or one it was raised from) says the database is away, not that a query is wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _AWAY):
            return True
        if isinstance(current, asyncpg.InterfaceError) and any(t in str(current) for t in _CLOSED):
            return True
        if isinstance(current, pg.InternalClientError) and _MID_SHUTDOWN in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe(exc: BaseException) -> str:
    """A reason an operator can read: the class and PostgreSQL's own sentence (no query, no credentials)."""
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}"[:200] if message else type(exc).__name__


class DatabaseOutage:
    """Per process: is the database away, since when, and why. Logs the start and the end of an outage."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since: float | None = None
        self.reason: str | None = None
        self.outages = 0

    @property
    def away(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        if self._since is None:
            self._since = self._clock()
            self.reason = describe(exc)
            self.outages += 1
            log.warning("database unavailable", extra={"reason": self.reason})

    def answered(self) -> None:
        if self._since is not None:
            lasted = round(self._clock() - self._since, 1)
            self._since, self.reason = None, None
            log.warning("database available again", extra={"outage_seconds": lasted})


DATABASE = DatabaseOutage()
"""This process's view of its database: what requests, readiness and the worker's consumer share."""


class _PoolReconnects(logging.Filter):
    """asyncpg's pool logs a warning with a traceback each time it fails to reconnect its minimum of
    connections, every second of an outage: that is the outage again, which the process's requests,
    readiness checks and consumer report once (DATABASE). Dropped, not counted: a helper process with
    a pool of its own must not report the outage a second time."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or not database_unavailable(error)


_POOL_RECONNECTS = _PoolReconnects()


def fold_pool_reconnect_logs() -> None:
    """Fold asyncpg's reconnect chatter into the one outage line (idempotent)."""
    logging.getLogger("asyncpg.pool").addFilter(_POOL_RECONNECTS)
