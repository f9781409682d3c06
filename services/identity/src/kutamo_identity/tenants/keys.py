"""API keys: random, shown once at creation, stored as a SHA-256 hash, revocable.

Keys carry 256 bits of randomness, so a fast hash is enough: nobody can guess their way back.
"""

import hashlib
import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

PREFIX = "kut_"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling: an API key's id (or the bootstrap operator key), its scope and tenant."""

    actor: str
    scope: str
    tenant_id: uuid.UUID | None

    @property
    def is_operator(self) -> bool:
        return self.scope == "operator"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


async def authenticate(pool: asyncpg.Pool, key: str) -> Principal | None:
    row = await pool.fetchrow("select id, tenant_id, scope from identity.authenticate_api_key($1)", digest(key))
    if row is None:
        return None
    return Principal(actor=f"api-key:{row['id']}", scope=row["scope"], tenant_id=row["tenant_id"])


async def create(
    conn: asyncpg.Connection, *, tenant_id: uuid.UUID | None, scope: str, name: str, created_by: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """The key's public description, and the key itself (returned to the caller once, never stored)."""
    key, key_id = new_key(), uuid.uuid4()
    await conn.execute(
        "insert into api_keys (id, tenant_id, scope, name, key_hash, prefix, created_at, created_by)"
        " values ($1, $2, $3, $4, $5, $6, $7, $8)",
        key_id, tenant_id, scope, name, digest(key), key[:10], now, created_by,
    )  # fmt: skip
    described = {"id": key_id, "tenant_id": tenant_id, "scope": scope, "name": name, "prefix": key[:10],
                 "created_at": now, "revoked_at": None}  # fmt: skip
    return described, key


async def revoke(
    conn: asyncpg.Connection, tenant_id: uuid.UUID | None, key_id: uuid.UUID, now: datetime
) -> dict[str, Any] | None:
    """Revoke a tenant's key, or with `tenant_id` None an operator key (in an operator transaction)."""
    row = await conn.fetchrow(
        "update api_keys set revoked_at = coalesce(revoked_at, $3) where id = $2"
        " and tenant_id is not distinct from $1"
        " returning id, tenant_id, scope, name, prefix, created_at, revoked_at",
        tenant_id, key_id, now,
    )  # fmt: skip
    return dict(row) if row else None


async def listing(conn: asyncpg.Connection, tenant_id: uuid.UUID | None) -> list[dict[str, Any]]:
    """A tenant's keys, or with `tenant_id` None the operator keys (in an operator transaction)."""
    rows = await conn.fetch(
        "select id, tenant_id, scope, name, prefix, created_at, revoked_at from api_keys"
        " where tenant_id is not distinct from $1 order by created_at",
        tenant_id,
    )
    return [dict(r) for r in rows]
