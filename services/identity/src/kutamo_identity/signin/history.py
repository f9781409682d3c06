"""A tenant's recent sign-ins as its IT admin sees them: accepted ones with the person's name, and
refused attempts at its login code with the refusal code. A refusal keeps nothing from the token."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg

REFUSALS_KEPT = 100


async def record_refusal(conn: asyncpg.Connection, tenant_id: uuid.UUID, at: datetime, code: str) -> None:
    """Keep this refusal and the newest ones before it, REFUSALS_KEPT in all, in one statement."""
    await conn.execute(
        """
        with added as (insert into sign_in_refusals (tenant_id, at, code) values ($1, $2, $3))
        delete from sign_in_refusals
        where tenant_id = $1 and id < (
            select id from sign_in_refusals where tenant_id = $1 order by id desc offset $4 limit 1
        )
        """,
        tenant_id, at, code, REFUSALS_KEPT - 2,
    )  # fmt: skip


async def recent(conn: asyncpg.Connection, tenant_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
    """Newest first, accepted and refused together."""
    rows = await conn.fetch(
        """
        (select signed_in_at as at, name, 'ok' as result from sign_ins
         where tenant_id = $1 order by signed_in_at desc limit $2)
        union all
        (select at, null, code from sign_in_refusals where tenant_id = $1 order by id desc limit $2)
        order by at desc limit $2
        """,
        tenant_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
