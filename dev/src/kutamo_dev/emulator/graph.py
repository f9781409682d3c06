"""Microsoft Graph's /me profile and photo endpoints, with Graph's error shapes and injectable faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib.resources
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import jwt
from litestar import Request, Response, get
from litestar.params import FromPath, QueryParameter

from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.faults import Fault, GraphEndpoint
from kutamo_dev.emulator.state import Emulator, EmulatorState
from kutamo_dev.emulator.tokens import GRAPH_AUDIENCES

__all__ = ["graph_handlers"]

_PHOTO_SIZES = frozenset({48, 64, 96, 120, 240, 360, 432, 504, 648})
_METADATA = "https://graph.microsoft.com/v1.0/$metadata"
_FAULT_ERRORS: dict[int, tuple[str, str]] = {
    429: ("TooManyRequests", "Too many requests. Retry after the number of seconds in Retry-After."),
    500: ("generalException", "General exception while processing."),
    502: ("badGateway", "The server received an invalid response from an upstream server."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable. Retry after a delay."),
    504: ("gatewayTimeout", "The server did not receive a timely response from an upstream server."),
}
Handler = Callable[[User], Response[Any]]


@functools.cache
def _photo_bytes() -> bytes:
    """The JPEG every user with a photo gets (read once; it never changes)."""
    return importlib.resources.files("kutamo_dev.emulator").joinpath("photo.jpg").read_bytes()


def _graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """Graph's error envelope, with the request ids Graph puts in `innerError`."""
    request_id = str(uuid.uuid4())
    inner = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": request_id,
    }
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return Response(content=body, status_code=status, headers=headers or {})


def _unauthenticated(message: str) -> Response[Any]:
    return _graph_error(401, "InvalidAuthenticationToken", message)


def _verify(token: str, emulator: EmulatorState) -> dict[str, Any] | str:
    """The access token's claims, or the message Graph gives when it refuses the token."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            emulator.graph_key.private_key.public_key(),
            algorithms=["RS256"],
            audience=list(GRAPH_AUDIENCES),
            # Lifetime is checked below against the emulator's clock, so tests can move time.
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                     "require": ["exp", "nbf", "tid", "oid"]},
        )  # fmt: skip
    except jwt.InvalidAudienceError:
        return "Access token validation failure. Invalid audience."
    except jwt.InvalidTokenError:
        return "Access token validation failure."
    now = emulator.now()
    if now >= int(claims["exp"]):
        return "Lifetime validation failed, the token is expired."
    if now < int(claims["nbf"]):
        return "Lifetime validation failed, the token is not yet valid."
    return claims


def _authenticate(request: Request[Any, Any, Any], emulator: EmulatorState) -> User | Response[Any]:
    """The user behind the bearer token, or the 401/404 Graph would answer instead."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthenticated("Access token is empty.")
    claims = _verify(token.strip(), emulator)
    if isinstance(claims, str):
        return _unauthenticated(claims)
    user = emulator.directory.get(str(claims["tid"]), str(claims["oid"]))
    if user is None:
        return _graph_error(
            404,
            "Request_ResourceNotFound",
            f"Resource '{claims['oid']}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return user


def _caller(request: Request[Any, Any, Any]) -> tuple[str | None, str | None]:
    """The tid and oid the bearer token names, unverified: only to pick a fault scoped to them."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None, None
    tid, oid = claims.get("tid"), claims.get("oid")
    return (tid if isinstance(tid, str) else None), (oid if isinstance(oid, str) else None)


async def _faulty_answer(fault: Fault) -> Response[Any] | None:
    """Wait as the fault says; return its error answer, or None when the call should then succeed."""
    if fault.delay_seconds:
        await asyncio.sleep(fault.delay_seconds)
    if fault.status < 300:
        return None
    code, message = _FAULT_ERRORS.get(fault.status, ("UnknownError", "The request failed."))
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    return _graph_error(fault.status, code, message, headers)


async def _serve(
    endpoint: GraphEndpoint, request: Request[Any, Any, Any], emulator: EmulatorState, handler: Handler
) -> Response[Any]:
    """Apply any queued fault, authenticate, answer, and count the call by its final status."""
    response: Response[Any] | None = None
    tid, oid = _caller(request)
    fault = emulator.faults.take(endpoint, tid, oid)
    if fault is not None:
        response = await _faulty_answer(fault)
    if response is None:
        user = _authenticate(request, emulator)
        response = user if isinstance(user, Response) else handler(user)
    emulator.graph_calls.record(endpoint, str(response.status_code))
    return response


def _profile(user: User) -> dict[str, Any]:
    """The default /me properties, in Graph's order."""
    return {
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": user.family_name,
        "userPrincipalName": user.user_principal_name,
        "id": user.oid,
    }


def _profile_answer(user: User, select: str | None) -> Response[Any]:
    """The profile, narrowed to `$select` (property names match case-insensitively, as in Graph)."""
    profile = _profile(user)
    if select is None or not select.strip():
        return Response(content={"@odata.context": f"{_METADATA}#users/$entity", **profile}, status_code=200)
    by_lower = {name.lower(): name for name in profile}
    chosen: list[str] = []
    for requested in (part.strip() for part in select.split(",")):
        name = by_lower.get(requested.lower())
        if name is None:
            return _graph_error(
                400,
                "Request_BadRequest",
                f"Parsing OData Select and Expand failed: Could not find a property named '{requested}' "
                "on type 'microsoft.graph.user'.",
            )
        if name not in chosen:
            chosen.append(name)
    context = f"{_METADATA}#users({','.join(chosen)})/$entity"
    body = {"@odata.context": context, **{name: profile[name] for name in chosen}}
    return Response(content=body, status_code=200)


def _photo_answer(user: User) -> Response[Any]:
    if not user.photo:
        return _graph_error(404, "ImageNotFound", "The photo wasn't found.")
    return Response(content=_photo_bytes(), media_type="image/jpeg", status_code=200)


def _size_of(size: str) -> int | None:
    """Accept Graph's `48x48` form as well as a bare `48`."""
    width, _, height = size.lower().partition("x")
    if not width.isdigit() or (height and height != width):
        return None
    return int(width)


@get("/v1.0/me")
async def me(
    request: Request[Any, Any, Any],
    emulator: Emulator,
    select: Annotated[str | None, QueryParameter(name="$select", required=False)] = None,
) -> Response[Any]:
    """The signed-in user's profile."""
    return await _serve("me", request, emulator, lambda user: _profile_answer(user, select))


@get("/v1.0/me/photo/$value")
async def photo(request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """The user's largest photo."""
    return await _serve("photo", request, emulator, _photo_answer)


@get("/v1.0/me/photos/{size:str}/$value")
async def photo_of_size(size: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """The user's photo at one of Graph's fixed sizes; other sizes do not exist."""

    def answer(user: User) -> Response[Any]:
        if _size_of(size) not in _PHOTO_SIZES:
            return _graph_error(404, "ImageNotFound", "The photo wasn't found.")
        return _photo_answer(user)

    return await _serve("photo", request, emulator, answer)


graph_handlers = [me, photo, photo_of_size]
