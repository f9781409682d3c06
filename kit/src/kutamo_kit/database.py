"""A service's database: its schema, the pool its requests and workers share, and its migrations."""

from collections.abc import Awaitable, Callable

import asyncpg

from kutamo_kit.migrations import Migrations
from kutamo_kit.outages import fold_pool_reconnect_logs

__all__ = ["ServiceDatabase"]


class ServiceDatabase:
    """Service `name` owns schema `name`, ships its migrations in `kutamo_<name>.migrations` and is
    started as `python -m kutamo_<name>`; its pool acts as `role`."""

    def __init__(
        self,
        name: str,
        *,
        role: str,
        lock_id: int,
        reset: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> None:
        self.reset = reset
        """What a connection does when it goes back to the pool (None: asyncpg's reset query)."""
        self.schema = name
        self.application_name = f"kutamo-{name}"
        self.role = role
        self.migrations = Migrations(
            schema=name,
            package=f"kutamo_{name}.migrations",
            lock_id=lock_id,
            command=f"python -m kutamo_{name} migrate",
        )

    async def create_pool(self, database_url: str, *, min_size: int = 0, max_size: int = 10) -> asyncpg.Pool:
        """Every connection searches the schema and acts as the app role (bound by row-level security).

        With min_size 0 (asyncpg opens min_size connections at creation and fails when it cannot) the
        pool connects on first use, so a process starts while PostgreSQL is away: its requests answer
        503 database_unavailable until the server is back (docs/operations.md). An idle connection
        closes after asyncpg's 300 s of inactivity; under traffic the pool stays warm.

        A connection PostgreSQL dropped (a restart) is replaced when next acquired: asyncpg reconnects a
        closed pool connection, so the pool recovers by itself once the server is back.
        """
        fold_pool_reconnect_logs()
        pool = await asyncpg.create_pool(
            database_url,
            min_size=min_size,
            max_size=max_size,
            reset=self.reset,
            server_settings={"search_path": self.schema, "application_name": self.application_name, "role": self.role},
        )
        assert pool is not None
        return pool
