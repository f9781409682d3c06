"""The identity service's errors and their problem+json (RFC 9457) mapping.

    IdentityError                 every error a client may see; carries status, code, title
     ├── BadRequest               400  malformed_request
     ├── NotFound                 404  e.g. unknown_login_code, tenant_not_found
     ├── Unauthorized             401  no or an unknown API key
     ├── Forbidden                403  a key of another tenant or too small a scope
     ├── Conflict                 409  e.g. login_code_taken
     ├── SignInRefused            401/403  the Microsoft token or the connection says no
     ├── TooManyRequests          429  rate_limited, with Retry-After
     └── Unavailable              503  a dependency is down

A JSON body nested too deeply to decode is a BadRequest too (BodyDepthGuardedRequest), not a 500.
Each instance carries a stable machine `code`, a `detail` sentence the signing-in person can act on,
and, where it helps, an `admin_hint` for the organisation's IT admin.
The handler below is the one place that turns them (and framework errors) into responses.
"""

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://docs.kutamo.com/problems/"


class IdentityError(Exception):
    status: int = 400
    title: str = "Request failed"

    def __init__(self, code: str, detail: str, *, status: int | None = None, admin_hint: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.admin_hint = admin_hint
        if status is not None:
            self.status = status


class BadRequest(IdentityError):
    status = 400
    title = "The request is not valid"


class NotFound(IdentityError):
    status = 404
    title = "Not found"


class Unauthorized(IdentityError):
    status = 401
    title = "Authentication required"


class Forbidden(IdentityError):
    status = 403
    title = "Not allowed"


class Conflict(IdentityError):
    status = 409
    title = "Conflict"


class SignInRefused(IdentityError):
    status = 401
    title = "Sign-in refused"


class TooManyRequests(IdentityError):
    status = 429
    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "rate_limited",
            f"Too many requests from your address; try again in {retry_after} second{'s' if retry_after != 1 else ''}.",
        )
        self.retry_after = retry_after


class Unavailable(IdentityError):
    status = 503
    title = "Temporarily unavailable"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    admin_hint: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, object]]:
    body: dict[str, object] = {
        "type": TYPE_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
    }
    if admin_hint:
        body["admin_hint"] = admin_hint
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def handle_identity_error(request: Request[Any, Any, Any], exc: IdentityError) -> Response[dict[str, object]]:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    return problem(exc.status, exc.code, exc.title, exc.detail, request.url.path, exc.admin_hint, headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
    path = request.url.path
    if isinstance(exc, ValidationException) or exc.status_code == 400:
        return problem(400, "malformed_request", BadRequest.title, _validation_detail(exc), path)
    if exc.status_code == 413:
        return problem(413, "request_too_large", "Request too large", "The request body is larger than 64 KiB.", path)
    if isinstance(exc, NotFoundException):
        return problem(404, "not_found", NotFound.title, f"There is nothing at {path}.", path)
    if exc.status_code == 405:
        return problem(
            405,
            "method_not_allowed",
            "Method not allowed",
            f"{request.method} is not allowed on {path}.",
            path,
        )
    return problem(exc.status_code, "http_error", "Request failed", str(exc.detail), path)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "Something went wrong on our side; nothing was changed. Try again, and contact support if it persists.",
        request.url.path,
    )


class BodyDepthGuardedRequest(Request[Any, Any, Any]):
    """A request whose JSON body nested deeper than the decoder can follow is the client's error.

    Litestar decodes the body untyped before checking it against the route's Struct, and that decoder
    gives up past Python's recursion limit with RecursionError, which would otherwise be a 500.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise BadRequest(
                "malformed_request",
                "The request body is nested too deeply to be read. Send a JSON object as described in the "
                "API documentation.",
            ) from None


def _validation_detail(exc: HTTPException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    messages = [str(item.get("message", "")) for item in extra if isinstance(item, dict)]
    text = "; ".join(m for m in messages if m) or str(exc.detail)
    return f"The request body is not valid: {text}. Send a JSON object as described in the API documentation."


EXCEPTION_HANDLERS = {
    IdentityError: handle_identity_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An RFC 9457 problem document, as every error of this API is answered."""

    type: str
    title: str
    status: int
    detail: str
    """A sentence for a person: what happened and what to do."""
    code: str
    """Stable machine code; see docs/errors.md."""
    instance: str
    admin_hint: str | None = None
    """For sign-in refusals, where it helps: what the organisation's IT admin should check."""


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem+json answers a route can give."""
    meaning = {
        400: "The request is not valid",
        401: "Missing, unknown or revoked credentials, or a refused sign-in",
        403: "Not allowed for this key or this organisation",
        404: "Not found",
        409: "Conflict, e.g. a login code in use",
        410: "Gone, e.g. an expired or withdrawn setup link",
        429: "Too many requests from this client; retry after Retry-After seconds",
        503: "A dependency is unavailable; retry later",
    }
    return {
        status: ResponseSpec(data_container=Problem, description=meaning[status], media_type=PROBLEM_JSON)
        for status in statuses
    }
