"""The worker's read API: users of a tenant and their avatars. HTTP only; errors are problem+json."""

import uuid
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from kutamo_kit.seams import Clock
from kutamo_provisioning import records
from kutamo_provisioning.access import Access, Caller
from kutamo_provisioning.avatar_urls import AvatarUrls
from kutamo_provisioning.avatars import AvatarStore
from kutamo_provisioning.errors import ApiError
from kutamo_provisioning.tenancy import tenant_transaction

_REVALIDATE = "private, max-age=300, must-revalidate"
_CACHE_CAP_SECONDS = 3600


def _image(request: Request[Any, Any, Any], sha256: str, found: tuple[str, bytes], cache: str) -> Response[bytes]:
    etag = f'"{sha256}"'
    headers = {"ETag": etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    content_type, data = found
    return Response(data, media_type=content_type, headers=headers)


class UsersController(Controller):
    path = "/v1"

    async def _visible(self, user_id: uuid.UUID, caller: Caller, conn: asyncpg.Connection) -> asyncpg.Record:
        # Row-level security already hides other tenants' users; the check says so in the code too.
        row = await records.one(conn, user_id)
        if row is None or not caller.may_read(row["tenant_id"]):
            raise ApiError(404, "user_not_found", "No user with this id in your organisation (yet); try again shortly.")
        return row

    @get("/users/{user_id:uuid}", summary="A user of the caller's tenant")
    async def user(
        self, user_id: uuid.UUID, request: Request[Any, Any, Any], db_pool: asyncpg.Pool, access: Access,
        avatar_urls: AvatarUrls, clock: Clock,
    ) -> dict[str, Any]:  # fmt: skip
        caller = await access.caller(request)
        async with caller.transaction(db_pool) as conn:
            return records.public(await self._visible(user_id, caller, conn), avatar_urls, clock())

    @get("/users/{user_id:uuid}/avatar", summary="The avatar of a user of the caller's tenant")
    async def user_avatar(
        self,
        user_id: uuid.UUID,
        request: Request[Any, Any, Any],
        db_pool: asyncpg.Pool,
        access: Access,
        avatar_store: AvatarStore,
    ) -> Response[bytes]:
        caller = await access.caller(request)
        async with caller.transaction(db_pool) as conn:
            row = await self._visible(user_id, caller, conn)
            sha = row["avatar_sha256"]
            found = await avatar_store.get(conn, row["tenant_id"], sha) if sha else None
        if sha is None or found is None:
            raise ApiError(404, "avatar_not_found", "This user has no avatar.")
        # The user's avatar may change: cache briefly, revalidate with the ETag.
        return _image(request, sha, found, _REVALIDATE)

    @get("/tenants/{tenant_id:uuid}/users", summary="A tenant's users, a page at a time, ordered by user id")
    async def tenant_users(
        self,
        tenant_id: uuid.UUID,
        request: Request[Any, Any, Any],
        db_pool: asyncpg.Pool,
        access: Access,
        avatar_urls: AvatarUrls,
        clock: Clock,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        after: uuid.UUID | None = None,
        include_inactive: bool = False,
    ) -> dict[str, Any]:
        caller = await access.caller(request)
        if not caller.may_read(tenant_id):
            raise ApiError(403, "tenant_forbidden", "Your session belongs to another organisation.")
        async with tenant_transaction(db_pool, tenant_id) as conn:
            rows = await records.page(conn, tenant_id, after, limit, include_inactive=include_inactive)
        following = str(rows[-1]["user_id"]) if len(rows) == limit else None
        now = clock()
        return {"users": [records.public(r, avatar_urls, now) for r in rows], "next_after": following}

    @get("/avatars/{tenant_id:uuid}/{sha256:str}", summary="An avatar, by the signed URL a user record gives")
    async def avatar(
        self,
        tenant_id: uuid.UUID,
        sha256: Annotated[str, Parameter(pattern="^[0-9a-f]{64}$")],
        request: Request[Any, Any, Any],
        db_pool: asyncpg.Pool,
        avatar_store: AvatarStore,
        avatar_urls: AvatarUrls,
        clock: Clock,
        expires: Annotated[int, Parameter(ge=0, le=2**40)] = 0,
        signature: Annotated[str, Parameter(max_length=64)] = "",
    ) -> Response[bytes]:
        # An <img> sends no Authorization header: the URL itself is the credential, for one tenant's
        # avatar and until it expires. Forged, altered and expired URLs all get the same answer.
        left = avatar_urls.seconds_left(tenant_id, sha256, expires, signature, clock())
        if not left:
            raise ApiError(403, "avatar_url_invalid", "This avatar link is not valid or has expired; reload the user.")
        async with tenant_transaction(db_pool, tenant_id) as conn:
            found = await avatar_store.get(conn, tenant_id, sha256)
        if found is None:
            raise ApiError(404, "avatar_not_found", "No such avatar in this organisation (any more).")
        return _image(request, sha256, found, f"private, max-age={min(left, _CACHE_CAP_SECONDS)}")
