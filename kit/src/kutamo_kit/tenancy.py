"""Transactions in a row-level security context: the only way a service's pool reaches tenant rows.

A service's app role sees the rows its policies allow for the context set here (PostgreSQL settings
local to the transaction): one tenant (`kutamo.tenant_id`, the same in both services), or a
service-wide context its own policies name. Without a context a transaction sees nothing.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import cast

import asyncpg

__all__ = ["context_transaction", "tenant_transaction"]


@contextlib.asynccontextmanager
async def context_transaction(pool: asyncpg.Pool, setting: str, value: str) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config($1, $2, true)", setting, value)
        # The pool hands out a proxy that forwards every Connection method to the connection it holds; the
        # repositories are typed against Connection's methods, which the stubs give the proxy alike.
        yield cast(asyncpg.Connection, conn)


def tenant_transaction(
    pool: asyncpg.Pool, tenant_id: uuid.UUID
) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
    return context_transaction(pool, "kutamo.tenant_id", str(tenant_id))
