"""Tenant, connection and login-code rows. Every function runs on a connection already in a tenant's
(or an operator's) transaction; row-level security backs the explicit filters."""

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from kutamo_identity.tenancy import resolve_login_code, tenant_transaction


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
    sign_in_flow: str = "implicit"
    """`implicit` (id_token + Graph token in the URL fragment) or `pkce` (authorization code with PKCE)."""


class LoginCodeTaken(Exception):
    """Another tenant uses this login code, now or within its rename grace period."""


_CONNECTION = """
    select c.tenant_id, t.display_name as tenant_name, c.application_id, c.login_code, c.user_note,
           c.directory_id, c.status, c.sign_in_flow, c.created_at, c.updated_at
    from azure_ad_connections c join tenants t on t.id = c.tenant_id
    where c.tenant_id = $1
"""


def _connection(row: asyncpg.Record) -> Connection:
    directory = row["directory_id"]
    return Connection(
        tenant_id=row["tenant_id"],
        tenant_name=row["tenant_name"],
        application_id=str(row["application_id"]),
        login_code=row["login_code"],
        user_note=row["user_note"],
        directory_id=str(directory) if directory else None,
        status=row["status"],
        sign_in_flow=row["sign_in_flow"],
    )


async def find_by_login_code(pool: asyncpg.Pool, login_code: str) -> Connection | None:
    tenant_id = await resolve_login_code(pool, login_code)
    if tenant_id is None:
        return None
    async with tenant_transaction(pool, tenant_id) as conn:
        row = await conn.fetchrow(_CONNECTION, tenant_id)
    return _connection(row) if row else None


async def connection_row(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(_CONNECTION, tenant_id)
    return dict(row) if row else None


async def create_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID, name: str, now: datetime) -> None:
    await conn.execute("insert into tenants (id, display_name, created_at) values ($1, $2, $3)", tenant_id, name, now)


async def get_tenant(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("select id, display_name, created_at from tenants where id = $1", tenant_id)
    return dict(row) if row else None


async def claim_login_code(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    code: str,
    previous: str | None,
    now: datetime,
    grace_until: datetime,
) -> None:
    """Make `code` the tenant's current login code; the previous one keeps resolving until `grace_until`.

    One primary key over current and grace-period codes makes two tenants racing for one code end
    with exactly one winner; the loser's transaction fails with LoginCodeTaken.
    """
    if previous is not None and previous.lower() == code.lower():
        return
    await conn.execute(
        "delete from login_codes where tenant_id = $1 and not is_current and expires_at <= $2", tenant_id, now
    )
    await conn.execute("select identity.release_expired_login_code($1)", code)
    if previous is not None:
        await conn.execute(
            "update login_codes set is_current = false, expires_at = $3 where tenant_id = $1 and code_lower = $2",
            tenant_id, previous.lower(), grace_until,
        )  # fmt: skip
    try:
        await conn.execute(
            "insert into login_codes (code_lower, tenant_id, is_current) values ($1, $2, true)"
            " on conflict (code_lower) do update set is_current = true, expires_at = null"
            " where login_codes.tenant_id = excluded.tenant_id",
            code.lower(), tenant_id,
        )  # fmt: skip
        taken = await conn.fetchval(
            "select tenant_id <> $2 from login_codes where code_lower = $1", code.lower(), tenant_id
        )
    except asyncpg.UniqueViolationError as exc:
        raise LoginCodeTaken(code) from exc
    if taken is None or taken:
        raise LoginCodeTaken(code)


async def release_login_codes(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    await conn.execute("delete from login_codes where tenant_id = $1", tenant_id)


async def upsert_connection(
    conn: asyncpg.Connection,
    *,
    tenant_id: uuid.UUID,
    application_id: uuid.UUID,
    login_code: str,
    user_note: str | None,
    directory_id: uuid.UUID | None,
    status: str,
    sign_in_flow: str,
    now: datetime,
) -> None:
    await conn.execute(
        """
        insert into azure_ad_connections (
            tenant_id, application_id, login_code, user_note, directory_id, status, sign_in_flow,
            created_at, updated_at
        )
        values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        on conflict (tenant_id) do update set
            application_id = excluded.application_id, login_code = excluded.login_code,
            user_note = excluded.user_note, directory_id = excluded.directory_id,
            status = excluded.status, sign_in_flow = excluded.sign_in_flow, updated_at = excluded.updated_at
        """,
        tenant_id, application_id, login_code, user_note, directory_id, status, sign_in_flow, now,
    )  # fmt: skip


async def delete_connection(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval("delete from azure_ad_connections where tenant_id = $1 returning true", tenant_id)
    await release_login_codes(conn, tenant_id)
    return bool(deleted)


async def set_status(conn: asyncpg.Connection, tenant_id: uuid.UUID, status: str, now: datetime) -> None:
    await conn.execute(
        "update azure_ad_connections set status = $2, updated_at = $3 where tenant_id = $1", tenant_id, status, now
    )


async def pin_directory(conn: asyncpg.Connection, tenant_id: uuid.UUID, directory_id: str, now: datetime) -> bool:
    """Pin a pending connection to the directory of its verification sign-in; False if it was pinned meanwhile."""
    pinned = await conn.fetchval(
        "update azure_ad_connections set directory_id = $2, status = 'active', updated_at = $3"
        " where tenant_id = $1 and directory_id is null returning true",
        tenant_id, uuid.UUID(directory_id), now,
    )  # fmt: skip
    return bool(pinned)
