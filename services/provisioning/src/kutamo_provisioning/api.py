"""The worker's small read API: users and avatars, health. HTTP only."""

import asyncio
import uuid
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import Parameter

from kutamo_provisioning import avatars, users
from kutamo_provisioning.consumer import SignInConsumer
from kutamo_provisioning.errors import ApiError
from kutamo_provisioning.sessions import SessionVerifier

PROBLEM_JSON = "application/problem+json"


class UsersController(Controller):
    path = "/v1"

    @get("/users/{user_id:uuid}", summary="A user of the caller's tenant")
    async def user(
        self,
        user_id: uuid.UUID,
        request: Request[Any, Any, Any],
        db_pool: asyncpg.Pool,
        verifier: SessionVerifier,
    ) -> dict[str, object]:
        claims = await verifier.verify(request.headers.get("authorization"))
        record = await users.get(db_pool, str(claims["tenant_id"]), user_id)
        if record is None:
            raise ApiError(404, "user_not_found", "No user with this id in your organisation (yet); try again shortly.")
        sha = record.pop("avatar_sha256")
        record["avatar_url"] = f"/v1/avatars/{sha}" if sha else None
        return record

    @get("/avatars/{sha256:str}", summary="An avatar image by content hash")
    async def avatar(
        self,
        sha256: Annotated[str, Parameter(pattern="^[0-9a-f]{64}$")],
        request: Request[Any, Any, Any],
        db_pool: asyncpg.Pool,
    ) -> Response[bytes]:
        etag = f'"{sha256}"'
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers={"ETag": etag})
        found = await avatars.load(db_pool, sha256)
        if found is None:
            raise ApiError(404, "avatar_not_found", "No avatar with this hash.")
        content_type, data = found
        # Content-addressed: the bytes behind a hash never change.
        headers = {
            "ETag": etag,
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(data, media_type=content_type, headers=headers)


class HealthController(Controller):
    @get("/health/live")
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/health/ready")
    async def ready(self, db_pool: asyncpg.Pool, consumer: SignInConsumer) -> Response[dict[str, Any]]:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(db_pool.fetchval("select 1"), 2)
            checks["database"] = {"ok": True}
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["consumer"] = {"ok": consumer.running, "assigned_partitions": len(consumer.assigned)}
        ok = all(c["ok"] for c in checks.values())
        return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


def _problem(status: int, code: str, detail: str, path: str) -> Response[dict[str, object]]:
    body = {
        "type": f"https://docs.kutamo.com/problems/{code.replace('_', '-')}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": path,
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, object]]:
    return _problem(exc.status, exc.code, exc.detail, request.url.path)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    if isinstance(exc, ValidationException):
        return _problem(400, "malformed_request", f"The request is not valid: {exc.detail}.", request.url.path)
    if isinstance(exc, NotFoundException):
        return _problem(404, "not_found", f"There is nothing at {request.url.path}.", request.url.path)
    return _problem(exc.status_code, "http_error", str(exc.detail), request.url.path)


EXCEPTION_HANDLERS = {ApiError: handle_api_error, HTTPException: handle_http_exception}
