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
    proposed_directory_id: str | None = None
    """A directory entered by a tenant admin, waiting for the verification sign-in from it that pins it."""
    allow_guests: bool = False
    """Whether B2B guests of the directory (accounts whose home is elsewhere) may sign in."""
    version: str = ""
    """The connection row's version (its xmin): the sign-in's statement admits only on this version."""


class LoginCodeTaken(Exception):
    """Another tenant uses this login code, now or within its rename grace period."""


_CONNECTION = """
    select c.tenant_id, t.display_name as tenant_name, c.application_id, c.login_code, c.user_note,
           c.directory_id, c.status, c.sign_in_flow, c.proposed_directory_id, c.allow_guests,
           c.disabled_by_operator, c.created_at, c.updated_at, c.xmin::text as version
    from azure_ad_connections c join tenants t on t.id = c.tenant_id
    where c.tenant_id = $1
"""


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def _connection(row: asyncpg.Record) -> Connection:
    return Connection(
        tenant_id=row["tenant_id"],
        tenant_name=row["tenant_name"],
        application_id=str(row["application_id"]),
        login_code=row["login_code"],
        user_note=row["user_note"],
        directory_id=_text(row["directory_id"]),
        status=row["status"],
        sign_in_flow=row["sign_in_flow"],
        proposed_directory_id=_text(row["proposed_directory_id"]),
        allow_guests=row["allow_guests"],
        version=row["version"],
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
    proposed_directory_id: uuid.UUID | None = None,
    allow_guests: bool = False,
) -> None:
    await conn.execute(
        """
        insert into azure_ad_connections (
            tenant_id, application_id, login_code, user_note, directory_id, status, sign_in_flow,
            created_at, updated_at, proposed_directory_id, allow_guests
        )
        values ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
        on conflict (tenant_id) do update set
            application_id = excluded.application_id, login_code = excluded.login_code,
            user_note = excluded.user_note, directory_id = excluded.directory_id,
            status = excluded.status, sign_in_flow = excluded.sign_in_flow, updated_at = excluded.updated_at,
            proposed_directory_id = excluded.proposed_directory_id, allow_guests = excluded.allow_guests
        """,
        tenant_id, application_id, login_code, user_note, directory_id, status, sign_in_flow, now,
        proposed_directory_id, allow_guests,
    )  # fmt: skip


async def delete_connection(conn: asyncpg.Connection, tenant_id: uuid.UUID, grace_until: datetime) -> bool:
    """Remove the connection; its login codes stay reserved for the tenant until `grace_until`, so a link
    already shared never opens another organisation's page the moment after."""
    deleted = await conn.fetchval("delete from azure_ad_connections where tenant_id = $1 returning true", tenant_id)
    await conn.execute(
        "update login_codes set is_current = false, expires_at = least(coalesce(expires_at, $2), $2)"
        " where tenant_id = $1",
        tenant_id, grace_until,
    )  # fmt: skip
    return bool(deleted)


async def set_status(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, status: str, now: datetime, *, by_operator: bool = False
) -> None:
    await conn.execute(
        "update azure_ad_connections set status = $2, updated_at = $3, disabled_by_operator = $4 where tenant_id = $1",
        tenant_id, status, now, status == "disabled" and by_operator,
    )  # fmt: skip


async def bound_elsewhere(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, application_id: uuid.UUID, directory_id: uuid.UUID
) -> bool:
    """Another tenant pinned this (application, directory) pair and no operator approved this tenant for it.

    Locks the pair until the caller's transaction ends, so of two tenants pinning it at once one waits.
    """
    elsewhere = await conn.fetchval(
        "select identity.directory_bound_elsewhere($1, $2, $3)", application_id, directory_id, tenant_id
    )
    if not elsewhere:
        return False
    approved = await conn.fetchval(
        "select true from directory_approvals where tenant_id = $1 and application_id = $2 and directory_id = $3",
        tenant_id, application_id, directory_id,
    )  # fmt: skip
    return not approved


async def approve_directory(
    conn: asyncpg.Connection,
    tenant_id: uuid.UUID,
    application_id: uuid.UUID,
    directory_id: uuid.UUID,
    actor: str,
    now: datetime,
) -> None:
    await conn.execute(
        "insert into directory_approvals (tenant_id, application_id, directory_id, approved_at, approved_by)"
        " values ($1, $2, $3, $4, $5) on conflict do nothing",
        tenant_id, application_id, directory_id, now, actor,
    )  # fmt: skip


async def pin_directory(conn: asyncpg.Connection, tenant_id: uuid.UUID, directory_id: str, now: datetime) -> bool:
    """Pin a pending connection to the directory of its verification sign-in; False if it was pinned
    meanwhile or a directory other than this one is proposed."""
    pinned = await conn.fetchval(
        "update azure_ad_connections set directory_id = $2, proposed_directory_id = null, updated_at = $3,"
        " status = case when status = 'disabled' then status else 'active' end"
        " where tenant_id = $1 and directory_id is null"
        " and (proposed_directory_id is null or proposed_directory_id = $2) returning true",
        tenant_id, uuid.UUID(directory_id), now,
    )  # fmt: skip
    return bool(pinned)
