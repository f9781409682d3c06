"""Errors a client may see and their problem+json (RFC 9457) answers: one translator for both services.

    ProblemError          every error a client may see: status, stable `code`, a `detail` sentence
                          (and, where it helps, an `admin_hint`, a `retry_after`); each service
                          subclasses it (IdentityError, the worker's ApiError)
    framework errors      Litestar's validation, 404, 405, 413 -> malformed_request, not_found, ...
    database away         PostgreSQL unreachable, shutting down or starting up -> 503 database_unavailable
                          with Retry-After, logged once per outage (kutamo_kit.outages), not as a bug
    anything else         500 internal_error, logged once with its traceback as "unhandled error"

A title follows from the status alone (TITLES), the same in both services.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from kutamo_kit.outages import DATABASE, DatabaseOutage, database_unavailable

__all__ = [
    "PROBLEM_JSON",
    "TITLES",
    "BodyDepthGuardedRequest",
    "Problem",
    "ProblemError",
    "exception_handlers",
    "problem",
    "problem_responses",
]

log = logging.getLogger("kutamo_kit.problems")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://docs.kutamo.com/problems/"
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_DETAIL = "The database is not reachable right now; nothing was changed. Try again in a few seconds."

TITLES: Mapping[int, str] = {
    400: "The request is not valid",
    401: "Authentication required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request too large",
    429: "Too many requests",
    500: "Internal error",
    503: "Temporarily unavailable",
}


def title_of(status: int) -> str:
    return TITLES.get(status, "Request failed")


class ProblemError(Exception):
    """An answer for the client: subclasses set `status`; every instance carries its own code and sentence."""

    status: int = 400

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status: int | None = None,
        admin_hint: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.admin_hint = admin_hint
        self.retry_after = retry_after
        if status is not None:
            self.status = status


def problem(
    status: int,
    code: str,
    detail: str,
    instance: str,
    admin_hint: str | None = None,
    retry_after: int | None = None,
) -> Response[dict[str, object]]:
    body: dict[str, object] = {
        "type": TYPE_BASE + code.replace("_", "-"),
        "title": title_of(status),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
    }
    if admin_hint:
        body["admin_hint"] = admin_hint
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


Handler = Callable[[Request[Any, Any, Any], Any], Response[dict[str, object]]]


def exception_handlers(
    *, max_body_kib: int | None = None, database: DatabaseOutage | None = None
) -> dict[Any, Handler]:
    """Litestar's exception_handlers for a service; `database` records outages met by requests."""
    outage = database or DATABASE

    def handle_problem(request: Request[Any, Any, Any], exc: ProblemError) -> Response[dict[str, object]]:
        return problem(exc.status, exc.code, exc.detail, request.url.path, exc.admin_hint, exc.retry_after)

    def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, object]]:
        path = request.url.path
        if isinstance(exc, ValidationException) or exc.status_code == 400:
            return problem(400, "malformed_request", _validation_detail(exc), path)
        if exc.status_code == 413:
            limit = f"larger than {max_body_kib} KiB" if max_body_kib else "too large"
            return problem(413, "request_too_large", f"The request body is {limit}.", path)
        if isinstance(exc, NotFoundException):
            return problem(404, "not_found", f"There is nothing at {path}.", path)
        if exc.status_code == 405:
            return problem(405, "method_not_allowed", f"{request.method} is not allowed on {path}.", path)
        if exc.status_code >= 500:
            return handle_unexpected(request, exc)
        return problem(exc.status_code, "http_error", str(exc.detail), path)

    def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
        path = request.url.path
        if database_unavailable(exc):
            outage.failed(exc)
            return problem(503, "database_unavailable", DATABASE_DETAIL, path, retry_after=DATABASE_RETRY_AFTER_SECONDS)
        log.error("unhandled error", exc_info=exc, extra={"path": path})
        detail = "Something went wrong on our side; nothing was changed. Try again, and contact support if it persists."
        return problem(500, "internal_error", detail, path)

    return {ProblemError: handle_problem, HTTPException: handle_http, Exception: handle_unexpected}


def _validation_detail(exc: HTTPException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    messages = [_field_message(item) for item in extra if isinstance(item, dict)]
    text = "; ".join(m for m in messages if m) or str(exc.detail)
    return f"The request is not valid: {text}. Send it as described in the API documentation."


def _field_message(item: dict[str, Any]) -> str:
    """One field's complaint, naming the field: "`name`: Expected `str`, got `int`"."""
    message = str(item.get("message", ""))
    if "matching regex" in message and "x00-" in message:  # the Label pattern: no control characters
        message = "it must be plain text, without control characters"
    key = item.get("key")
    return f"`{key}`: {message}" if key and message else message


class BodyDepthGuardedRequest(Request[Any, Any, Any]):
    """A request whose JSON body nested deeper than the decoder can follow is the client's error.

    Litestar decodes the body untyped before checking it against the route's Struct, and that decoder
    gives up past Python's recursion limit with RecursionError, which would otherwise be a 500.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise ProblemError(
                "malformed_request",
                "The request body is nested too deeply to be read. Send a JSON object as described in the "
                "API documentation.",
            ) from None


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An RFC 9457 problem document, as every error of these APIs is answered."""

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


_MEANINGS: Mapping[int, str] = {
    400: "The request is not valid",
    401: "Missing, unknown or revoked credentials, or a refused sign-in",
    403: "Not allowed for this key or this organisation",
    404: "Not found",
    409: "Conflict, e.g. a login code in use",
    410: "Gone, e.g. an expired or withdrawn setup link",
    429: "Too many requests from this client; retry after Retry-After seconds",
    503: "A dependency (the database, Microsoft) is unavailable; retry after Retry-After seconds",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem+json answers a route can give."""
    return {
        status: ResponseSpec(data_container=Problem, description=_MEANINGS[status], media_type=PROBLEM_JSON)
        for status in statuses
    }
