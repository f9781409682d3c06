"""Transactions in a tenant's context, or in the worker's own (every tenant); the only way to the rows.

The pool connects as role kutamo_provisioning_app, which row-level security confines to the tenant set
here; the worker's batches, erasures and sweeps act on every tenant. A query outside both sees nothing.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

APP_ROLE = "kutamo_provisioning_app"


@contextlib.asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.tenant_id', $1, true)", str(tenant_id))
        yield _connection(conn)


@contextlib.asynccontextmanager
async def worker_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.all_tenants', 'on', true)")
        yield _connection(conn)


def _connection(proxy: PoolConnectionProxy) -> asyncpg.Connection:
    """The pool hands out a proxy that forwards every Connection method to the connection it holds; the
    repositories are typed against Connection's methods, which the stubs give the proxy alike."""
    return cast(asyncpg.Connection, proxy)
