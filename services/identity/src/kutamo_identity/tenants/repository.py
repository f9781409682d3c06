"""Tenant and connection rows. Every function takes the connection it runs on."""

import uuid
from datetime import datetime

import asyncpg
import msgspec


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's Azure AD connection as the sign-in path needs it."""

    tenant_id: uuid.UUID
    tenant_name: str
    application_id: str
    """Lower-case GUID text, as it appears in Microsoft tokens' `aud`."""
    login_code: str
    user_note: str | None
    directory_id: str | None
    """Lower-case GUID text of the pinned Azure directory, as in tokens' `tid`; None while pending."""
    status: str


class LoginCodeTaken(Exception):
    """Another tenant already uses this login code (case-insensitively)."""


async def create_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID, name: str, now: datetime) -> None:
    await conn.execute("insert into tenants (id, display_name, created_at) values ($1, $2, $3)", tenant_id, name, now)


async def put_connection(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    application_id: uuid.UUID,
    login_code: str,
    user_note: str | None,
    directory_id: uuid.UUID | None,
    now: datetime,
) -> None:
    status = "active" if directory_id else "pending_verification"
    try:
        await conn.execute(
            """
            insert into azure_ad_connections
                (tenant_id, application_id, login_code, user_note, directory_id, status, created_at, updated_at)
            values ($1, $2, $3, $4, $5, $6, $7, $7)
            on conflict (tenant_id) do update set
                application_id = excluded.application_id, login_code = excluded.login_code,
                user_note = excluded.user_note, directory_id = excluded.directory_id,
                status = excluded.status, updated_at = excluded.updated_at
            """,
            tenant_id,
            application_id,
            login_code,
            user_note,
            directory_id,
            status,
            now,
        )
    except asyncpg.UniqueViolationError as exc:
        raise LoginCodeTaken(login_code) from exc


async def find_by_login_code(conn: asyncpg.Connection | asyncpg.Pool, login_code: str) -> Connection | None:
    row = await conn.fetchrow(
        """
        select c.tenant_id, t.display_name as tenant_name, c.application_id, c.login_code, c.user_note,
               c.directory_id, c.status
        from azure_ad_connections c join tenants t on t.id = c.tenant_id
        where lower(c.login_code) = lower($1)
        """,
        login_code,
    )
    if row is None:
        return None
    directory = row["directory_id"]
    return Connection(
        tenant_id=row["tenant_id"],
        tenant_name=row["tenant_name"],
        application_id=str(row["application_id"]),
        login_code=row["login_code"],
        user_note=row["user_note"],
        directory_id=str(directory) if directory else None,
        status=row["status"],
    )


async def pin_directory(conn: asyncpg.Connection, tenant_id: uuid.UUID, directory_id: str, now: datetime) -> bool:
    """Pin a pending connection to the directory of its verification sign-in; False if it was pinned meanwhile."""
    pinned = await conn.fetchval(
        "update azure_ad_connections set directory_id = $2, status = 'active', updated_at = $3"
        " where tenant_id = $1 and directory_id is null returning true",
        tenant_id,
        uuid.UUID(directory_id),
        now,
    )
    return bool(pinned)
