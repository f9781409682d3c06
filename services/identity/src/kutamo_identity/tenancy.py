"""Transactions in a tenant's context, the only way the service reaches tenant-owned rows.

The pool connects as role kutamo_identity_app, which row-level security confines to the tenant set
here (or to every tenant for an operator); a query that forgets its tenant filter still sees only
that tenant, and a transaction without a context sees nothing.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

APP_ROLE = "kutamo_identity_app"


@contextlib.asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.tenant_id', $1, true)", str(tenant_id))
        yield _connection(conn)


@contextlib.asynccontextmanager
async def operator_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.operator', 'on', true)")
        yield _connection(conn)


async def resolve_login_code(pool: asyncpg.Pool | asyncpg.Connection, login_code: str) -> uuid.UUID | None:
    """The tenant a login code (current, or old within its grace period) belongs to."""
    tenant_id: uuid.UUID | None = await pool.fetchval("select identity.resolve_login_code($1)", login_code)
    return tenant_id


def _connection(proxy: PoolConnectionProxy) -> asyncpg.Connection:
    """The pool hands out a proxy that forwards every Connection method to the connection it holds; the
    repositories are typed against Connection's methods, which the stubs give the proxy alike."""
    return cast(asyncpg.Connection, proxy)
