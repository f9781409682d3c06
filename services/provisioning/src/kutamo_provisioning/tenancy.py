"""Transactions in a tenant's context, or in the worker's own (every tenant); the only way to the rows.

The pool connects as role kutamo_provisioning_app, which row-level security confines to the tenant set
here; the worker's batches, erasures and sweeps act on every tenant. A query outside both sees nothing.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

APP_ROLE = "kutamo_provisioning_app"


@contextlib.asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant_id: uuid.UUID) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.tenant_id', $1, true)", str(tenant_id))
        yield conn


@contextlib.asynccontextmanager
async def worker_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('kutamo.all_tenants', 'on', true)")
        yield conn
