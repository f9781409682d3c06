"""Transactions in a tenant's context, the only way the service reaches tenant-owned rows.

The pool connects as role kutamo_identity_app, which row-level security confines to the tenant set
here (or to every tenant for an operator); a query that forgets its tenant filter still sees only
that tenant, and a transaction without a context sees nothing.
"""

import contextlib
import uuid

import asyncpg

from kutamo_kit.tenancy import context_transaction, tenant_transaction

__all__ = ["APP_ROLE", "operator_transaction", "resolve_login_code", "tenant_transaction"]

APP_ROLE = "kutamo_identity_app"


def operator_transaction(pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
    return context_transaction(pool, "kutamo.operator", "on")


async def resolve_login_code(pool: asyncpg.Pool | asyncpg.Connection, login_code: str) -> uuid.UUID | None:
    """The tenant a login code (current, or old within its grace period) belongs to."""
    tenant_id: uuid.UUID | None = await pool.fetchval("select identity.resolve_login_code($1)", login_code)
    return tenant_id
