"""Single-use verification codes of the sign-in path (login nonces are in nonces.py).

Random, handed out once, stored only as a SHA-256 hash, expire, and consumed atomically (`used_at is
null` in the same UPDATE), so a replay or a race of two sign-ins lets exactly one through.
"""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg


def _hash(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


async def issue_verification_code(
    conn: asyncpg.Pool | asyncpg.Connection, tenant_id: uuid.UUID, now: datetime, ttl: timedelta, created_by: str
) -> str:
    code = secrets.token_urlsafe(24)
    await conn.execute(
        "insert into verification_codes (code_hash, tenant_id, created_at, expires_at, created_by)"
        " values ($1, $2, $3, $4, $5)",
        _hash(code),
        tenant_id,
        now,
        now + ttl,
        created_by,
    )
    return code


async def verification_code_valid(
    conn: asyncpg.Pool | asyncpg.Connection, code: str, tenant_id: uuid.UUID, now: datetime
) -> bool:
    found = await conn.fetchval(
        "select true from verification_codes where code_hash = $1 and tenant_id = $2"
        " and used_at is null and expires_at > $3",
        _hash(code),
        tenant_id,
        now,
    )
    return bool(found)


async def consume_verification_code(
    conn: asyncpg.Connection, code: str, tenant_id: uuid.UUID, directory_id: str, now: datetime
) -> dict[str, object] | None:
    """Consume the code; who created it and when (for the audit log), or None if it cannot be used."""
    used = await conn.fetchrow(
        "update verification_codes set used_at = $3, pinned_directory_id = $4 where code_hash = $1"
        " and tenant_id = $2 and used_at is null and expires_at > $3 returning created_by, created_at",
        _hash(code),
        tenant_id,
        now,
        uuid.UUID(directory_id),
    )
    return dict(used) if used else None


async def forget_expired(conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> None:
    """Housekeeping: consumed nonces and codes a day past their expiry are of no use to anyone (an
    expired nonce is refused by its own MAC-protected expiry)."""
    cutoff = now - timedelta(days=1)
    await conn.execute("delete from consumed_nonces where expires_at < $1", cutoff)
    await conn.execute("delete from verification_codes where expires_at < $1", cutoff)
