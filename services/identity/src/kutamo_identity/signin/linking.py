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


class KnownUsers:
    """The user id this process last linked each (tenant, tid, oid) to, so a returning person's event can
    be built before the one statement that records the sign-in (identity.record_sign_in checks it and
    answers 'relink' when it is stale). Bounded: when full it starts again empty."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._ids: dict[tuple[uuid.UUID, str, str], uuid.UUID] = {}

    def get(self, tenant_id: uuid.UUID, tid: str, oid: str) -> uuid.UUID | None:
        return self._ids.get((tenant_id, tid, oid))

    def remember(self, tenant_id: uuid.UUID, tid: str, oid: str, user_id: uuid.UUID) -> None:
        if len(self._ids) >= self._capacity:
            self._ids.clear()
        self._ids[(tenant_id, tid, oid)] = user_id
