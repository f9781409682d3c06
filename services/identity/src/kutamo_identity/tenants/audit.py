"""The audit trail of a tenant's connection and keys: who (which key), when, what, before and after.
Operators' own actions (their keys) are entries without a tenant, readable by operators only.

Entries are written in the same transaction as the change they describe, and never hold a secret.
"""

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg


async def record(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID | None,
    actor: str,
    action: str,
    now: datetime,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "insert into audit_log (tenant_id, at, actor, action, before, after) values ($1, $2, $3, $4, $5, $6)",
        tenant_id, now, actor, action, _json(before), _json(after),
    )  # fmt: skip


async def page(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    """Newest first; `before_id` continues from the last entry of the previous page."""
    rows = await conn.fetch(
        "select id, tenant_id, at, actor, action, before, after from audit_log"
        " where tenant_id = $1 and ($2::bigint is null or id < $2) order by id desc limit $3",
        tenant_id, before_id, limit,
    )  # fmt: skip
    return _entries(rows)


async def page_all(conn: asyncpg.Connection, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    """Every entry an operator may read (in an operator transaction): all tenants' and operators' own."""
    rows = await conn.fetch(
        "select id, tenant_id, at, actor, action, before, after from audit_log"
        " where ($1::bigint is null or id < $1) order by id desc limit $2",
        before_id, limit,
    )  # fmt: skip
    return _entries(rows)


def _entries(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [
        {**dict(r), "before": json.loads(r["before"]) if r["before"] else None,
         "after": json.loads(r["after"]) if r["after"] else None}
        for r in rows
    ]  # fmt: skip


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)
