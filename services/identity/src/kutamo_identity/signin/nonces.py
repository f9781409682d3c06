"""Login nonces without state: issued with the login configuration, recorded only when consumed.

A nonce is base64url(tenant id ‖ expiry ‖ 16 random bytes ‖ HMAC-SHA256 of those), keyed with a key
derived from TOKEN_SEALING_KEY under its own label (so every identity instance accepts every other's
nonces, and no new secret has to be deployed). Handing one out writes nothing, so unauthenticated
page loads cannot fill a table. A sign-in checks the MAC, the tenant and the expiry, then inserts
the nonce's hash into `consumed_nonces` in its own transaction: the primary key lets exactly one of
two racing or replayed uses through.
"""

import base64
import hashlib
import hmac
import re
import secrets
import struct
import uuid
from datetime import UTC, datetime

import asyncpg

from kutamo_identity.signin.compact import b64url

_LABEL = b"kutamo-identity/login-nonce/v1"
_BODY = 16 + 8 + 16  # tenant id, expiry (unix seconds), randomness
_SHAPE = re.compile(r"[A-Za-z0-9_-]{96}")  # base64url of the body and a 32-byte MAC, no padding


def derive_key(sealing_key: bytes) -> bytes:
    return hmac.new(sealing_key, _LABEL, hashlib.sha256).digest()


def issue(key: bytes, tenant_id: uuid.UUID, expires_at: datetime) -> str:
    body = tenant_id.bytes + struct.pack(">Q", int(expires_at.timestamp())) + secrets.token_bytes(16)
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()


def check(key: bytes, nonce: str, tenant_id: uuid.UUID, now: datetime) -> datetime | None:
    """The nonce's expiry when this service issued it for this tenant and it has not expired; else None."""
    if not _SHAPE.fullmatch(nonce):
        return None
    try:
        raw = b64url(nonce)
    except ValueError:
        return None
    body, mac = raw[:_BODY], raw[_BODY:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        return None
    (expiry,) = struct.unpack(">Q", body[16:24])
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if uuid.UUID(bytes=body[:16]) != tenant_id or expires_at <= now:
        return None
    return expires_at


def digest(nonce: str) -> bytes:
    """What `consumed_nonces` keeps of a used nonce."""
    return hashlib.sha256(nonce.encode()).digest()


async def consume(
    conn: asyncpg.Connection, nonce: str, tenant_id: uuid.UUID, expires_at: datetime, now: datetime
) -> bool:
    """Record the nonce as used; False when it was used before (or is being used right now)."""
    recorded = await conn.fetchval(
        "insert into consumed_nonces (nonce_hash, tenant_id, consumed_at, expires_at) values ($1, $2, $3, $4)"
        " on conflict (nonce_hash) do nothing returning true",
        digest(nonce),
        tenant_id,
        now,
        expires_at,
    )
    return bool(recorded)
