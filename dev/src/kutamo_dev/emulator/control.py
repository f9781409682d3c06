"""The `/_emulator` control API tests and the demo use to seed users, mint tokens and inject faults."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.params import JSONBody, QueryParameter

from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.faults import Fault
from kutamo_dev.emulator.state import Emulator
from kutamo_dev.emulator.tokens import (
    GRAPH_SCOPES,
    IdTokenRequest,
    mint_graph_access_token,
    mint_id_token,
)

__all__ = ["control_router", "problem"]

_Lifetime = Annotated[int, msgspec.Meta(ge=1, le=30 * 24 * 3600)]


class UserBody(msgspec.Struct, frozen=True, kw_only=True):
    """A user to create or replace; the oid is generated when absent."""

    tid: uuid.UUID
    display_name: str
    user_principal_name: str
    oid: uuid.UUID | None = None
    mail: str | None = None
    job_title: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    photo: bool = True


class TokenBody(msgspec.Struct, frozen=True, kw_only=True):
    """What to mint; `extra_claims`/`omit_claims` shape deliberately wrong tokens for negative tests."""

    tid: uuid.UUID
    oid: uuid.UUID
    client_id: Annotated[str, msgspec.Meta(min_length=1)]
    nonce: str | None = None
    version: Literal["2.0", "1.0"] = "2.0"
    lifetime_seconds: _Lifetime = 3600
    issued_at: int | None = None
    include_access_token: bool = True
    access_token_lifetime_seconds: _Lifetime = 3600
    extra_claims: dict[str, Any] = msgspec.field(default_factory=dict)
    omit_claims: list[str] = msgspec.field(default_factory=list)


class RotateBody(msgspec.Struct, frozen=True, kw_only=True):
    """Options of a key rotation."""

    drop_old: bool = False


def problem(status: int, code: str, title: str, detail: str) -> Response[Any]:
    """An RFC 9457 problem, as everywhere else in Kutamo outside Microsoft's own paths."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    return Response(content=body, status_code=status, media_type="application/problem+json")


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    """Liveness for the local stack and test fixtures."""
    return {"status": "ok"}


@post("/users", sync_to_thread=False)
def put_user(data: JSONBody[UserBody], emulator: Emulator) -> dict[str, Any]:
    """Create a user, or replace the one with the same (tid, oid)."""
    user = User(
        tid=str(data.tid),
        oid=str(data.oid or uuid.uuid4()),
        display_name=data.display_name,
        user_principal_name=data.user_principal_name,
        mail=data.mail,
        job_title=data.job_title,
        given_name=data.given_name,
        family_name=data.family_name,
        photo=data.photo,
    )
    emulator.directory.put(user)
    result: dict[str, Any] = msgspec.to_builtins(user)
    return result


@post("/tokens", sync_to_thread=False, status_code=200)
def mint_tokens(data: JSONBody[TokenBody], emulator: Emulator) -> Response[Any]:
    """Mint what Microsoft's implicit flow returns: an id_token and, by default, a Graph access token."""
    user = emulator.directory.get(str(data.tid), str(data.oid))
    if user is None:
        return problem(
            404, "user_not_found", "User not found",
            f"No user {data.oid} in directory {data.tid}; create it with POST /_emulator/users first.",
        )  # fmt: skip
    issued_at = emulator.now() if data.issued_at is None else data.issued_at
    access_token: str | None = None
    if data.include_access_token:
        access_token = mint_graph_access_token(
            user, data.client_id, issued_at, data.access_token_lifetime_seconds, emulator.graph_key
        )
    request = IdTokenRequest(
        client_id=data.client_id,
        version=data.version,
        issued_at=issued_at,
        lifetime_seconds=data.lifetime_seconds,
        nonce=data.nonce,
        access_token=access_token,
        extra_claims=data.extra_claims,
        omit_claims=tuple(data.omit_claims),
    )
    id_token = mint_id_token(user, request, emulator.keys.current)
    lifetime = data.access_token_lifetime_seconds if access_token else data.lifetime_seconds
    # Like OAuth's expires_in: seconds left from now, so tokens minted in the past show 0.
    expires_in = max(0, issued_at + lifetime - emulator.now())
    body = {
        "token_type": "Bearer",
        "scope": GRAPH_SCOPES,
        "expires_in": expires_in,
        "id_token": id_token,
        "access_token": access_token,
    }
    return Response(content=body)


@post("/faults", sync_to_thread=False)
def add_fault(data: JSONBody[Fault], emulator: Emulator) -> dict[str, Any]:
    """Queue a fault for the next Graph calls to one endpoint."""
    emulator.faults.add(data)
    return {"fault": msgspec.to_builtins(data), "pending": emulator.faults.pending()}


@delete("/faults", sync_to_thread=False)
def clear_faults(emulator: Emulator, tid: Annotated[str | None, QueryParameter(required=False)] = None) -> None:
    """Drop the queued faults scoped to directory `tid`, or all of them without it."""
    emulator.faults.clear(tid)


@get("/calls", sync_to_thread=False)
def graph_calls(emulator: Emulator) -> dict[str, dict[str, int]]:
    """Graph calls so far, by endpoint then HTTP status."""
    return emulator.graph_calls.snapshot()


@delete("/calls", sync_to_thread=False)
def clear_graph_calls(emulator: Emulator) -> None:
    """Start counting Graph calls from zero."""
    emulator.graph_calls.clear()


@get("/keys", sync_to_thread=False)
def signing_keys(emulator: Emulator) -> dict[str, Any]:
    """Which kid signs new tokens and which are published."""
    return {"current_kid": emulator.keys.current.kid, "published_kids": emulator.keys.published_kids}


@post("/keys/rotate", status_code=200)
async def rotate_keys(request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """Sign with a new key from now on; the body is optional, so it is decoded by hand."""
    raw = await request.body()
    try:
        options = msgspec.json.decode(raw, type=RotateBody) if raw.strip() else RotateBody()
    except msgspec.ValidationError as error:
        return problem(400, "invalid_body", "Invalid body", str(error))
    except msgspec.DecodeError:
        return problem(400, "invalid_body", "Invalid body", "The body is not valid JSON.")
    new_key = emulator.keys.rotate(drop_old=options.drop_old)
    return Response(content={"kid": new_key.kid, "published_kids": emulator.keys.published_kids})


@get("/discovery-hits", sync_to_thread=False)
def discovery_hits(emulator: Emulator) -> dict[str, dict[str, int]]:
    """Discovery and key-set fetches so far, by tenant segment then document."""
    return emulator.discovery_hits.snapshot()


@delete("/discovery-hits", sync_to_thread=False)
def clear_discovery_hits(emulator: Emulator) -> None:
    """Start counting discovery fetches from zero."""
    emulator.discovery_hits.clear()


class OutageBody(msgspec.Struct, frozen=True, kw_only=True):
    """Whether Microsoft's login endpoints (discovery and keys) are down."""

    login: bool


@post("/outage", sync_to_thread=False, status_code=200)
def set_outage(data: JSONBody[OutageBody], emulator: Emulator) -> dict[str, bool]:
    """Take the discovery and key endpoints down (503) or bring them back."""
    emulator.login_outage = data.login
    return {"login": emulator.login_outage}


@post("/reset", sync_to_thread=False, status_code=204)
def reset(emulator: Emulator) -> None:
    """Forget users, applications, consents, sign-ins, faults and counters; keys stay (clients cache them)."""
    emulator.directory.clear()
    emulator.applications.clear()
    emulator.consents.clear()
    emulator.flows.clear()
    emulator.codes.clear()
    emulator.faults.clear()
    emulator.graph_calls.clear()
    emulator.discovery_hits.clear()
    emulator.login_outage = False


control_router = Router(
    path="/_emulator",
    route_handlers=[
        health, put_user, mint_tokens, add_fault, clear_faults, graph_calls, clear_graph_calls,
        signing_keys, rotate_keys, discovery_hits, clear_discovery_hits, set_outage, reset,
    ],
)  # fmt: skip
