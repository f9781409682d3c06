"""scim_users, identities and scim_requests rows. Every function runs in the tenant's transaction;
row-level security backs the explicit tenant filters."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from kutamo_identity.scim.resources import Meta, UserState

_COLUMNS = (
    "user_id, external_id, user_name, display_name, given_name, family_name, email, title, active, version,"
    " created_at, updated_at, deleted_at"
)


def state_of(row: asyncpg.Record) -> tuple[UserState, Meta]:
    state = UserState(
        external_id=row["external_id"], user_name=row["user_name"] or "", active=row["active"],
        display_name=row["display_name"], given_name=row["given_name"], family_name=row["family_name"],
        email=row["email"], title=row["title"],
    )  # fmt: skip
    meta = Meta(user_id=row["user_id"], version=row["version"], created_at=row["created_at"],
                updated_at=row["updated_at"])  # fmt: skip
    return state, meta


async def pinned_directory(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> uuid.UUID | None:
    directory: uuid.UUID | None = await conn.fetchval(
        "select directory_id from azure_ad_connections where tenant_id = $1", tenant_id
    )
    return directory


async def find(conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False) -> Any:
    suffix = " for update" if lock else ""
    return await conn.fetchrow(
        f"select {_COLUMNS} from scim_users where tenant_id = $1 and user_id = $2 and deleted_at is null{suffix}",  # noqa: S608
        tenant_id, user_id,
    )  # fmt: skip


async def find_by_external_id(conn: asyncpg.Connection, tenant_id: uuid.UUID, external_id: str) -> Any:
    """Deleted ones too: a user the directory provisions again is the same Kutamo user."""
    return await conn.fetchrow(
        f"select {_COLUMNS} from scim_users where tenant_id = $1 and external_id = $2 for update",  # noqa: S608
        tenant_id, external_id,
    )  # fmt: skip


async def user_name_taken(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_name: str, other_than: uuid.UUID | None
) -> bool:
    found: bool = await conn.fetchval(
        "select exists (select from scim_users where tenant_id = $1 and lower(user_name) = lower($2)"
        " and deleted_at is null and ($3::uuid is null or user_id <> $3))",
        tenant_id, user_name, other_than,
    )  # fmt: skip
    return found


async def link_identity(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, tid: uuid.UUID, oid: uuid.UUID, new_user_id: uuid.UUID,
    now: datetime,
) -> uuid.UUID:  # fmt: skip
    """The Kutamo user of (tenant, tid, oid): the one their sign-ins already use, or a new one."""
    await conn.execute(
        "insert into identities (user_id, tenant_id, azure_tid, azure_oid, created_at, last_signed_in_at)"
        " values ($1, $2, $3, $4, $5, null) on conflict (tenant_id, azure_tid, azure_oid) do nothing",
        new_user_id, tenant_id, tid, oid, now,
    )  # fmt: skip
    user_id: uuid.UUID = await conn.fetchval(
        "select user_id from identities where tenant_id = $1 and azure_tid = $2 and azure_oid = $3", tenant_id, tid, oid
    )
    return user_id


async def azure_ids(conn: asyncpg.Connection, user_id: uuid.UUID) -> tuple[str, str]:
    row = await conn.fetchrow("select azure_tid, azure_oid from identities where user_id = $1", user_id)
    assert row is not None, "a SCIM user references its identity row"
    return str(row["azure_tid"]), str(row["azure_oid"])


async def save(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, state: UserState, version: int, now: datetime
) -> asyncpg.Record:
    """Insert or overwrite (also revive a tombstone) the user's directory state."""
    row = await conn.fetchrow(
        "insert into scim_users (user_id, tenant_id, external_id, user_name, display_name, given_name, family_name,"  # noqa: S608
        " email, title, active, version, created_at, updated_at)"
        " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)"
        " on conflict (user_id) do update set user_name = excluded.user_name, display_name = excluded.display_name,"
        " given_name = excluded.given_name, family_name = excluded.family_name, email = excluded.email,"
        " title = excluded.title, active = excluded.active, version = excluded.version,"
        " updated_at = excluded.updated_at, deleted_at = null,"
        " created_at = case when scim_users.deleted_at is null then scim_users.created_at else excluded.created_at end"
        f" returning {_COLUMNS}",
        user_id, tenant_id, state.external_id, state.user_name, state.display_name, state.given_name,
        state.family_name, state.email, state.title, state.active, version, now,
    )  # fmt: skip
    assert row is not None, "an upsert ... returning gives its row"
    return row


async def tombstone(conn: asyncpg.Connection, user_id: uuid.UUID, version: int, now: datetime) -> None:
    """Deleted: personal data gone, the identifiers kept so the person's sign-in stays refused."""
    await conn.execute(
        "update scim_users set user_name = null, display_name = null, given_name = null, family_name = null,"
        " email = null, title = null, active = false, version = $2, updated_at = $3, deleted_at = $3"
        " where user_id = $1",
        user_id, version, now,
    )  # fmt: skip


async def page(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, condition: str, params: list[Any], offset: int, limit: int
) -> tuple[int, list[asyncpg.Record]]:
    where = f"tenant_id = $1 and deleted_at is null and {condition}"
    total: int = await conn.fetchval(f"select count(*) from scim_users where {where}", tenant_id, *params)  # noqa: S608
    if limit == 0:
        return total, []
    n = len(params) + 2
    rows = await conn.fetch(
        f"select {_COLUMNS} from scim_users where {where} order by created_at, user_id offset ${n} limit ${n + 1}",  # noqa: S608
        tenant_id, *params, offset, limit,
    )  # fmt: skip
    return total, list(rows)


async def is_inactive(conn: asyncpg.Connection, user_id: uuid.UUID | str) -> bool:
    """Whether the directory deactivated or deleted this user (False for users SCIM never touched)."""
    inactive: bool | None = await conn.fetchval(
        "select not active from scim_users where user_id = $1", uuid.UUID(str(user_id))
    )
    return bool(inactive)


async def record_request(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_id: uuid.UUID, now: datetime, method: str, route: str,
    resource_id: uuid.UUID | None, status: int, scim_type: str | None,
) -> None:  # fmt: skip
    await conn.execute(
        "insert into scim_requests (tenant_id, token_id, at, method, route, resource_id, status, scim_type)"
        " values ($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id, token_id, now, method, route, resource_id, status, scim_type,
    )  # fmt: skip
    await conn.execute(
        "update scim_tokens set last_used_at = $2 where id = $1"
        " and (last_used_at is null or last_used_at < $2::timestamptz - interval '1 minute')",
        token_id, now,
    )  # fmt: skip
