"""Setup link rows: a random secret shown once (in the URL fragment), stored as SHA-256, expiring, revocable.

The secret carries 256 bits of randomness, so a fast hash is enough. Every function but `find` runs in
the tenant's transaction; `find` is the one look-up before the tenant is known.
"""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg

PREFIX = "kut_setup_"
SETUP_PATH = "/setup"


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def url(public_base_url: str, secret: str) -> str:
    """The link handed to the IT admin: the secret in the fragment, which no server log or Referer sees."""
    return f"{public_base_url}{SETUP_PATH}#link={secret}"


def status(row: dict[str, Any], now: datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    return "expired" if row["expires_at"] <= now else "active"


async def create(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, *, created_by: str, now: datetime, valid: timedelta
) -> tuple[dict[str, Any], str]:
    """The link's row and its secret (returned to the caller once, never stored)."""
    secret, link_id = PREFIX + secrets.token_urlsafe(32), uuid.uuid4()
    row = await conn.fetchrow(
        "insert into setup_links (id, tenant_id, secret_hash, created_at, created_by, expires_at)"
        " values ($1, $2, $3, $4, $5, $6)"
        " returning id, tenant_id, created_at, created_by, expires_at, revoked_at, last_used_at",
        link_id, tenant_id, digest(secret), now, created_by, now + valid,
    )  # fmt: skip
    assert row is not None, "insert ... returning gives its row"
    return dict(row), secret


async def listing(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select id, tenant_id, created_at, created_by, expires_at, revoked_at, last_used_at from setup_links"
        " where tenant_id = $1 order by created_at desc, id",
        tenant_id,
    )
    return [dict(r) for r in rows]


async def revoke(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, link_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    """Revoke the link and end its setup sessions; None if the tenant has no such link."""
    row = await conn.fetchrow(
        "update setup_links set revoked_at = coalesce(revoked_at, $3) where id = $2 and tenant_id = $1"
        " returning id, tenant_id, created_at, created_by, expires_at, revoked_at, last_used_at",
        tenant_id, link_id, now,
    )  # fmt: skip
    if row is None:
        return None
    await conn.execute(
        "update setup_sessions set ended_at = $3 where link_id = $2 and tenant_id = $1 and ended_at is null",
        tenant_id, link_id, now,
    )  # fmt: skip
    return dict(row)


async def find(pool: asyncpg.Pool, secret: str) -> dict[str, Any] | None:
    """The link a secret opens, whatever its state: id, tenant_id, expires_at, revoked_at."""
    if not secret.startswith(PREFIX):
        return None
    row = await pool.fetchrow("select * from identity.find_setup_link($1)", digest(secret))
    return dict(row) if row else None


async def mark_used(conn: asyncpg.Connection, link_id: uuid.UUID, now: datetime) -> datetime | None:
    """Record a use of a link still usable now; its expiry, or None if it was revoked or expired meanwhile."""
    expires: datetime | None = await conn.fetchval(
        "update setup_links set last_used_at = $2 where id = $1 and revoked_at is null and expires_at > $2"
        " returning expires_at",
        link_id, now,
    )  # fmt: skip
    return expires
