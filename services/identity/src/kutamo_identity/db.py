"""The database pool and the schema migrations of the `identity` schema.

Migrations are plain SQL files in migrations/, applied in name order, each in its own transaction,
under an advisory lock so several instances starting together apply them once.
"""

import logging
from importlib import resources

import asyncpg

from kutamo_identity.tenancy import APP_ROLE

log = logging.getLogger(__name__)

SCHEMA = "identity"
_LOCK_ID = 0x6B7574616D6F01  # any constant unique to this service's migrations

_CREATE_SCHEMA = "create schema if not exists identity"
_CREATE_TABLE = (
    "create table if not exists identity.schema_migrations"
    " (name text primary key, applied_at timestamptz not null default now())"
)
_APPLIED = "select name from identity.schema_migrations"
_RECORD = "insert into identity.schema_migrations (name) values ($1)"


async def _no_session_state(_: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query (RESET ALL, UNLISTEN *, CLOSE ALL, advisory unlock): a
    second round trip per use. Nothing here leaves session state on a pooled connection: tenant and
    operator contexts are transaction-local, the relay's advisory lock is on a connection of its own,
    and the connection cache UNLISTENs before it gives its connection back. asyncpg still rolls back a
    transaction left open."""


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """The service's pool: every connection acts as kutamo_identity_app, bound by row-level security."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        reset=_no_session_state,
        server_settings={"search_path": SCHEMA, "application_name": "kutamo-identity", "role": APP_ROLE},
    )
    assert pool is not None
    return pool


async def migrate_database(database_url: str) -> list[str]:
    """Apply migrations on a connection of the login role itself (it owns the schema)."""
    conn: asyncpg.Connection = await asyncpg.connect(database_url, server_settings={"search_path": SCHEMA})
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    files = sorted(
        (f for f in resources.files("kutamo_identity.migrations").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    applied: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(_CREATE_SCHEMA)
        await conn.execute(_CREATE_TABLE)
        done = {r["name"] for r in await conn.fetch(_APPLIED)}
        for file in files:
            if file.name in done:
                continue
            async with conn.transaction():
                await conn.execute(file.read_text())
                await conn.execute(_RECORD, file.name)
            applied.append(file.name)
            log.info("migration applied", extra={"migration": file.name})
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_ID)
    return applied
