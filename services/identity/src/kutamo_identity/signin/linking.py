"""Linking a Microsoft identity to a stable Kutamo user id: by (tenant, tid, oid), never by email."""

import uuid
from datetime import datetime

import asyncpg


async def link(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    tid: str,
    oid: str,
    new_user_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID:
    user_id: uuid.UUID = await conn.fetchval(
        """
        insert into identities (user_id, tenant_id, azure_tid, azure_oid, created_at, last_signed_in_at)
        values ($1, $2, $3, $4, $5, $5)
        on conflict (tenant_id, azure_tid, azure_oid)
            do update set last_signed_in_at = greatest(identities.last_signed_in_at, excluded.last_signed_in_at)
        returning user_id
        """,
        new_user_id,
        tenant_id,
        uuid.UUID(tid),
        uuid.UUID(oid),
        now,
    )
    return user_id
