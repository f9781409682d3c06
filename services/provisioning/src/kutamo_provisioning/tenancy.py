"""Transactions in a tenant's context, or in the worker's own (every tenant); the only way to the rows.

The pool connects as role kutamo_provisioning_app, which row-level security confines to the tenant set
here; the worker's batches, erasures and sweeps act on every tenant. A query outside both sees nothing.
"""

import contextlib

import asyncpg

from kutamo_kit.tenancy import context_transaction, tenant_transaction

__all__ = ["APP_ROLE", "tenant_transaction", "worker_transaction"]

APP_ROLE = "kutamo_provisioning_app"


def worker_transaction(pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
    return context_transaction(pool, "kutamo.all_tenants", "on")
