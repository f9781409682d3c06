"""SCIM bearer tokens: one or more per tenant, random, shown once, stored as a SHA-256 hash, revocable.

A token carries 256 bits of randomness, so a fast hash is enough (as for API keys). Rotation is
create-new, paste it into Entra, revoke-old; both work in between.
"""

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

PREFIX = "kscim_"


class ScimCaller(msgspec.Struct, frozen=True):
    token_id: uuid.UUID
    tenant_id: uuid.UUID


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def authenticate(pool: asyncpg.Pool, token: str) -> ScimCaller | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = await pool.fetchrow("select id, tenant_id from identity.authenticate_scim_token($1)", digest(token))
    return ScimCaller(row["id"], row["tenant_id"]) if row else None


_PUBLIC = "id, tenant_id, name, prefix, created_at, created_by, revoked_at, last_used_at"


async def create(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, name: str, created_by: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """The token's public description, and the token itself (returned to the caller once, never stored)."""
    token, token_id = PREFIX + secrets.token_urlsafe(32), uuid.uuid4()
    row = await conn.fetchrow(
        "insert into scim_tokens (id, tenant_id, name, token_hash, prefix, created_at, created_by)"  # noqa: S608
        f" values ($1, $2, $3, $4, $5, $6, $7) returning {_PUBLIC}",
        token_id, tenant_id, name, digest(token), token[:12], now, created_by,
    )  # fmt: skip
    assert row is not None, "insert ... returning gives its row"
    return dict(row), token


async def listing(conn: asyncpg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"select {_PUBLIC} from scim_tokens where tenant_id = $1 order by created_at, id",  # noqa: S608
        tenant_id,
    )
    return [dict(r) for r in rows]


async def revoke(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, token_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "update scim_tokens set revoked_at = coalesce(revoked_at, $3) where id = $2 and tenant_id = $1"  # noqa: S608
        f" returning {_PUBLIC}",
        tenant_id, token_id, now,
    )  # fmt: skip
    return dict(row) if row else None
