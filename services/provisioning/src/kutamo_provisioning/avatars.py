"""Avatars: checked to really be an allowed image, stored once per content hash."""

import hashlib
from datetime import datetime

import asyncpg

from kutamo_provisioning.graph import Photo

# content type -> the magic bytes a file of that type starts with
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def accepted(photo: Photo) -> bool:
    """True when the content type is allowed and the bytes really are that type of image."""
    signatures = _SIGNATURES.get(photo.content_type)
    return signatures is not None and photo.data.startswith(signatures)


async def store(conn: asyncpg.Connection, photo: Photo, now: datetime) -> str:
    sha256 = hashlib.sha256(photo.data).hexdigest()
    await conn.execute(
        "insert into avatars (sha256, content_type, bytes, created_at) values ($1, $2, $3, $4)"
        " on conflict (sha256) do nothing",
        sha256,
        photo.content_type,
        photo.data,
        now,
    )
    return sha256


async def load(pool: asyncpg.Pool, sha256: str) -> tuple[str, bytes] | None:
    row = await pool.fetchrow("select content_type, bytes from avatars where sha256 = $1", sha256)
    return (row["content_type"], row["bytes"]) if row else None
