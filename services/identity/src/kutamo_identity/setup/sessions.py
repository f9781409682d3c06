"""Setup sessions: what the setup page's cookie names once a link was exchanged.

The cookie value is random and stored as SHA-256. The CSRF token is derived from it (a different hash
of the same secret), so it needs no storage, differs per session, and cannot be computed from anything
the database or a log holds.
"""

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

import asyncpg
import msgspec

COOKIE = "kutamo_setup"
LIFETIME = timedelta(hours=1)


class SetupSession(msgspec.Struct, frozen=True, kw_only=True):
    """An open setup session: the link it came from, that link's tenant, and when it ends."""

    link_id: uuid.UUID
    tenant_id: uuid.UUID
    expires_at: datetime
    link_expires_at: datetime
    csrf_token: str

    @property
    def actor(self) -> str:
        return f"setup-link:{self.link_id}"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def csrf_token(cookie: str) -> str:
    return hashlib.sha256(b"kutamo-setup-csrf\x00" + cookie.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_matches(session: SetupSession, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode("utf-8", "replace"), session.csrf_token.encode())


async def open_session(
    conn: asyncpg.Connection, *, link_id: uuid.UUID, tenant_id: uuid.UUID, now: datetime, link_expires_at: datetime
) -> tuple[str, datetime]:
    """A new session for the link: the cookie value (never stored) and when the session ends."""
    cookie = secrets.token_urlsafe(32)
    expires = min(now + LIFETIME, link_expires_at)
    await conn.execute(
        "insert into setup_sessions (session_hash, link_id, tenant_id, created_at, expires_at)"
        " values ($1, $2, $3, $4, $5)",
        _digest(cookie), link_id, tenant_id, now, expires,
    )  # fmt: skip
    return cookie, expires


async def authenticate(pool: asyncpg.Pool, cookie: str, now: datetime) -> SetupSession | None:
    """The open session this cookie names, if its link is still neither revoked nor expired."""
    if not cookie or len(cookie) > 256:
        return None
    row = await pool.fetchrow("select * from identity.authenticate_setup_session($1, $2)", _digest(cookie), now)
    if row is None:
        return None
    return SetupSession(
        link_id=row["link_id"],
        tenant_id=row["tenant_id"],
        expires_at=row["expires_at"],
        link_expires_at=row["link_expires_at"],
        csrf_token=csrf_token(cookie),
    )


async def forget_expired(conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> None:
    """Housekeeping: sessions a day past their end are of no use to anyone."""
    await conn.execute("delete from setup_sessions where expires_at < $1", now - timedelta(days=1))
