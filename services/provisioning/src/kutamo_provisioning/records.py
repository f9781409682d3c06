"""Reads of user records for the API: one user, or a tenant's users a page at a time (keyset on user id)."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from kutamo_provisioning.avatar_urls import AvatarUrls

_COLUMNS = (
    "user_id, tenant_id, name, email, email_source, email_verified, title, avatar_sha256, signed_in_at, active,"
    " profile_refreshed, not_refreshed_reason, profile_refreshed_at, created_at, updated_at"
)


def public(row: asyncpg.Record, urls: AvatarUrls, now: datetime) -> dict[str, Any]:
    """What the API shows of a record: the seed's four fields, a signed link to the avatar, and freshness."""
    record = dict(row)
    sha = record.pop("avatar_sha256")
    record["avatar_url"] = urls.url(record["tenant_id"], sha, now) if sha else None
    record["profile"] = {
        "refreshed": record.pop("profile_refreshed"),
        "not_refreshed_reason": record.pop("not_refreshed_reason"),
        "refreshed_at": record.pop("profile_refreshed_at"),
    }
    return record


async def one(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {_COLUMNS} from users where user_id = $1 and deleted_at is null", user_id)  # noqa: S608


async def page(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
    *,
    include_inactive: bool = False,
) -> list[asyncpg.Record]:
    """Active users only, unless asked; users the directory deleted never (issue 16, docs/scim.md)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"select {_COLUMNS} from users where tenant_id = $1 and ($2::uuid is null or user_id > $2)"  # noqa: S608
        " and deleted_at is null and (active or $4) order by user_id limit $3",
        tenant_id,
        after,
        limit,
        include_inactive,
    )
    return rows
