"""The database pool and the schema migrations of the `provisioning` schema.

Migrations are plain SQL files in migrations/, applied in name order, each in its own transaction,
under an advisory lock so several instances starting together apply them once.
"""

import logging
from importlib import resources

import asyncpg

from kutamo_provisioning.tenancy import APP_ROLE

log = logging.getLogger(__name__)

SCHEMA = "provisioning"
_LOCK_ID = 0x6B7574616D6F11  # any constant unique to this service's migrations

_CREATE_SCHEMA = "create schema if not exists provisioning"
_CREATE_TABLE = (
    "create table if not exists provisioning.schema_migrations"
    " (name text primary key, applied_at timestamptz not null default now())"
)
_APPLIED = "select name from provisioning.schema_migrations"
_RECORD = "insert into provisioning.schema_migrations (name) values ($1)"


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """The worker's pool: every connection acts as kutamo_provisioning_app, bound by row-level security."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": SCHEMA, "application_name": "kutamo-provisioning", "role": APP_ROLE},
    )
    assert pool is not None
    return pool


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet applied, as the login role (it owns the schema); return their names."""
    files = sorted(
        (f for f in resources.files("kutamo_provisioning.migrations").iterdir() if f.name.endswith(".sql")),
        key=lambda f: f.name,
    )
    applied: list[str] = []
    await conn.execute("set role none")  # a pool connection acts as the app role; the owner migrates
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
        await conn.execute("reset role")
    return applied
