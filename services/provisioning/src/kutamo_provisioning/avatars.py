"""Avatars: checked to really be an allowed image, stored once per content hash behind a small interface.

PostgreSQL is the default store; an object store only has to implement AvatarStore.
"""

import abc
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


def rejection(photo: Photo) -> str | None:
    """Why the photo is not accepted (type not allowed, bytes not that type), or None when it is fine."""
    signatures = _SIGNATURES.get(photo.content_type)
    if signatures is None:
        return "avatar_type_not_allowed"
    if not photo.data.startswith(signatures):
        return "avatar_bytes_not_an_image"
    return None


def content_hash(photo: Photo) -> str:
    return hashlib.sha256(photo.data).hexdigest()


class AvatarStore(abc.ABC):
    @abc.abstractmethod
    async def put(self, conn: asyncpg.Connection, photos: list[Photo], now: datetime) -> None:
        """Store the photos inside the caller's transaction; an existing hash is left as it is."""

    @abc.abstractmethod
    async def get(self, pool: asyncpg.Pool, sha256: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of the avatar with this hash, or None."""


class PostgresAvatarStore(AvatarStore):
    async def put(self, conn: asyncpg.Connection, photos: list[Photo], now: datetime) -> None:
        # In hash order, so concurrent batches storing the same photos wait for each other, never deadlock.
        unique = dict(sorted(((content_hash(p), p) for p in photos), key=lambda pair: pair[0]))
        if not unique:
            return
        await conn.execute(
            "insert into avatars (sha256, content_type, bytes, created_at)"
            " select h, t, b, $4 from unnest($1::text[], $2::text[], $3::bytea[]) as a(h, t, b)"
            " on conflict (sha256) do nothing",
            list(unique),
            [p.content_type for p in unique.values()],
            [p.data for p in unique.values()],
            now,
        )

    async def get(self, pool: asyncpg.Pool, sha256: str) -> tuple[str, bytes] | None:
        row = await pool.fetchrow("select content_type, bytes from avatars where sha256 = $1", sha256)
        return (row["content_type"], row["bytes"]) if row else None
