"""Avatars: checked to really be an allowed image, stored once per content hash behind a small interface.

PostgreSQL is the default store; an object store only has to implement AvatarStore.
"""

import abc
import hashlib
import uuid
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
    """Avatars of one tenant each: the same picture in two tenants is two avatars (no cross-tenant dedup)."""

    @abc.abstractmethod
    async def put(self, conn: asyncpg.Connection, photos: list[tuple[str, Photo]], now: datetime) -> None:
        """Store (tenant id, photo) pairs inside the caller's transaction; one already there is kept."""

    @abc.abstractmethod
    async def get(self, conn: asyncpg.Connection, tenant_id: uuid.UUID, sha256: str) -> tuple[str, bytes] | None:
        """(content type, bytes) of the tenant's avatar with this hash, or None."""

    @abc.abstractmethod
    async def sweep(self, conn: asyncpg.Connection, tenant_id: uuid.UUID | None = None) -> int:
        """Delete avatars no user references (of one tenant, or all); return how many went."""


class PostgresAvatarStore(AvatarStore):
    async def put(self, conn: asyncpg.Connection, photos: list[tuple[str, Photo]], now: datetime) -> None:
        # In key order, so concurrent batches storing the same photos wait for each other, never deadlock.
        # `do update` locks an avatar already there until the batch commits, so a sweep skips it then.
        unique = dict(sorted(((tenant, content_hash(p)), p) for tenant, p in photos))
        if not unique:
            return
        await conn.execute(
            "insert into avatars (tenant_id, sha256, content_type, bytes, created_at)"
            " select t, h, c, b, $5 from unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) as a(t, h, c, b)"
            " on conflict (tenant_id, sha256) do update set created_at = avatars.created_at",
            [tenant for tenant, _ in unique],
            [sha for _, sha in unique],
            [p.content_type for p in unique.values()],
            [p.data for p in unique.values()],
            now,
        )

    async def get(self, conn: asyncpg.Connection, tenant_id: uuid.UUID, sha256: str) -> tuple[str, bytes] | None:
        row = await conn.fetchrow(
            "select content_type, bytes from avatars where tenant_id = $1 and sha256 = $2", tenant_id, sha256
        )
        return (row["content_type"], row["bytes"]) if row else None

    async def sweep(self, conn: asyncpg.Connection, tenant_id: uuid.UUID | None = None) -> int:
        # An avatar a batch in flight is storing or referencing is locked by it: skipped, swept next time.
        deleted: list[asyncpg.Record] = await conn.fetch(
            "delete from avatars where (tenant_id, sha256) in ("
            " select a.tenant_id, a.sha256 from avatars a"
            " where ($1::uuid is null or a.tenant_id = $1)"
            " and not exists (select from users u where u.tenant_id = a.tenant_id and u.avatar_sha256 = a.sha256)"
            " for update skip locked) returning sha256",
            tenant_id,
        )
        return len(deleted)
