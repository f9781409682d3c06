"""SCIM error bodies (RFC 7644 section 3.12): `urn:ietf:params:scim:api:messages:2.0:Error` with the
HTTP status as a string, a `scimType` where the RFC names one, and a sentence an IT admin can act on.

    ScimError               every error a SCIM client sees
     ├── 400 invalidFilter / invalidValue / invalidPath / invalidSyntax / noTarget / tooMany
     ├── 401                no, unknown or revoked SCIM token
     ├── 404                no such user in this tenant
     ├── 409 uniqueness     userName or externalId already provisioned
     ├── 503                the database is away (Retry-After; logged once per outage by kutamo_kit.outages)
     └── 413 / 405 / 500    framework errors, mapped below
"""

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

from kutamo_kit.outages import DATABASE, database_unavailable
from kutamo_kit.problems import DATABASE_DETAIL, DATABASE_RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def bad(scim_type: str, detail: str) -> ScimError:
    return ScimError(400, detail, scim_type)


def not_found(user_id: str) -> ScimError:
    return ScimError(404, f"No user with id {user_id!r} in this organisation.")


def body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        document["scimType"] = scim_type
    return document


def response(status: int, detail: str, scim_type: str | None = None) -> Response[dict[str, Any]]:
    headers = {"WWW-Authenticate": 'Bearer realm="kutamo-scim"'} if status == 401 else None
    return Response(body(status, detail, scim_type), status_code=status, media_type=SCIM_JSON, headers=headers)


def handle_scim_error(_: Request[Any, Any, Any], exc: ScimError) -> Response[dict[str, Any]]:
    return response(exc.status, exc.detail, exc.scim_type)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == 413:
        return response(413, "The request body is larger than 64 KiB; send fewer attributes or operations.")
    if isinstance(exc, NotFoundException):
        return response(404, f"There is nothing at {request.url.path}.")
    if exc.status_code == 405:
        return response(405, f"{request.method} is not supported on {request.url.path}.")
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    return response(400, f"The request is not valid: {exc.detail}.", "invalidSyntax")


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if database_unavailable(exc):
        DATABASE.failed(exc)
        answer = response(503, DATABASE_DETAIL)
        answer.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return answer
    log.error("unhandled SCIM error", exc_info=exc, extra={"path": request.url.path})
    return response(500, "Something went wrong on Kutamo's side; nothing was changed. The request can be retried.")


EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    ScimError: handle_scim_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
