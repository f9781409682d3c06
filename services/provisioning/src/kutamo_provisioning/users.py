"""User records: idempotent by event id, and an older sign-in never overwrites newer data."""

import uuid
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from kutamo_contracts.events import UserSignedIn

Change = Literal["created", "updated", "unchanged", "stale", "duplicate"]
FIELDS = ("name", "email", "title", "avatar_sha256")


class Details(msgspec.Struct, frozen=True, kw_only=True):
    """What we know of the person for this event. With graph_known False, title and avatar are kept as they are."""

    name: str | None
    email: str | None
    title: str | None = None
    avatar_sha256: str | None = None
    graph_known: bool = False


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    change: Change
    changed_fields: list[str] = []
    record: dict[str, object] | None = None


async def apply(conn: asyncpg.Connection, event: UserSignedIn, details: Details, now: datetime) -> Outcome:
    """Apply one sign-in inside the caller's transaction."""
    first_time = await conn.fetchval(
        "insert into processed_events (event_id, outcome, processed_at) values ($1, 'applied', $2)"
        " on conflict (event_id) do nothing returning true",
        uuid.UUID(event.event_id),
        now,
    )
    if not first_time:
        return Outcome(change="duplicate")
    before = await conn.fetchrow(
        "select name, email, title, avatar_sha256 from users where user_id = $1 for update",
        uuid.UUID(event.user_id),
    )
    after = await conn.fetchrow(
        """
        insert into users (user_id, tenant_id, azure_tid, azure_oid, name, email, title, avatar_sha256,
                           signed_in_at, source_event_id, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
        on conflict (user_id) do update set
            name = coalesce(excluded.name, users.name),
            email = coalesce(excluded.email, users.email),
            title = case when $12 then excluded.title else users.title end,
            avatar_sha256 = case when $12 then excluded.avatar_sha256 else users.avatar_sha256 end,
            signed_in_at = excluded.signed_in_at,
            source_event_id = excluded.source_event_id,
            updated_at = excluded.updated_at
        where users.signed_in_at < excluded.signed_in_at
        returning user_id, tenant_id, name, email, title, avatar_sha256
        """,
        uuid.UUID(event.user_id),
        uuid.UUID(event.tenant_id),
        uuid.UUID(event.azure_tid),
        uuid.UUID(event.azure_oid),
        details.name,
        details.email,
        details.title,
        details.avatar_sha256,
        event.signed_in_at,
        uuid.UUID(event.event_id),
        now,
        details.graph_known,
    )
    if after is None:
        await conn.execute(
            "update processed_events set outcome = 'stale' where event_id = $1", uuid.UUID(event.event_id)
        )
        return Outcome(change="stale")
    record = dict(after)
    if before is None:
        return Outcome(change="created", changed_fields=[f for f in FIELDS if record[f] is not None], record=record)
    changed = [f for f in FIELDS if before[f] != record[f]]
    return Outcome(change="updated" if changed else "unchanged", changed_fields=changed, record=record)


async def get(pool: asyncpg.Pool, tenant_id: str, user_id: uuid.UUID) -> dict[str, object] | None:
    row = await pool.fetchrow(
        "select user_id, tenant_id, name, email, title, avatar_sha256, signed_in_at, created_at, updated_at"
        " from users where user_id = $1 and tenant_id = $2",
        user_id,
        uuid.UUID(tenant_id),
    )
    return dict(row) if row else None
