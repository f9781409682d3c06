"""What a sign-in sends back to the app: a redirect carrying tokens, a code, or an error.

Implicit flow: `id_token` (with nonce, and `at_hash` when an access token comes too) and the Graph
access token in the fragment. Code flow: a single-use code bound to the request, in the query or
the fragment as the request's response_mode says.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Response

from kutamo_dev.emulator.aadsts import AadError, Trace, redirect_params
from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.grants import CODE_LIFETIME_SECONDS, AuthorizationCode, AuthorizeRequest, ResponseMode
from kutamo_dev.emulator.signin_pages import PAGE_HEADERS
from kutamo_dev.emulator.state import EmulatorState
from kutamo_dev.emulator.tokens import GRAPH_SCOPES, IdTokenRequest, mint_graph_access_token, mint_id_token

__all__ = [
    "ACCESS_TOKEN_LIFETIME_SECONDS",
    "EXPIRES_IN",
    "ID_TOKEN_LIFETIME_SECONDS",
    "issue",
    "redirect",
    "redirect_error",
]

ID_TOKEN_LIFETIME_SECONDS = 3600
ACCESS_TOKEN_LIFETIME_SECONDS = 3600
# Microsoft reports a second less than the lifetime: the token was minted a moment ago.
EXPIRES_IN = 3599


def redirect(uri: str, mode: ResponseMode, params: dict[str, str]) -> Response[Any]:
    """A 302 to the app with `params` form-encoded in the query or the fragment."""
    encoded = urlencode(params)
    separator = "#" if mode == "fragment" else ("&" if "?" in uri else "?")
    location = f"{uri}{separator}{encoded}"
    return Response(content=b"", status_code=302, headers={**PAGE_HEADERS, "Location": location})


def redirect_error(request: AuthorizeRequest, error: AadError, emulator: EmulatorState) -> Response[Any]:
    """An error sent back to the app's redirect URI, with Microsoft's trace lines."""
    trace = Trace.new(emulator.clock(), request.client_request_id)
    return redirect(request.redirect_uri, request.response_mode, redirect_params(error, trace, request.state))


def _implicit(request: AuthorizeRequest, user: User, emulator: EmulatorState) -> dict[str, str]:
    client_id = request.application.key
    issued_at = emulator.now()
    params: dict[str, str] = {}
    access_token: str | None = None
    if "token" in request.response_types:
        access_token = mint_graph_access_token(
            user, client_id, issued_at, ACCESS_TOKEN_LIFETIME_SECONDS, emulator.graph_key
        )
        params = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": str(EXPIRES_IN),
            "scope": GRAPH_SCOPES,
        }
    id_request = IdTokenRequest(
        client_id=client_id,
        version="2.0",
        issued_at=issued_at,
        lifetime_seconds=ID_TOKEN_LIFETIME_SECONDS,
        nonce=request.nonce,
        access_token=access_token,
    )
    params["id_token"] = mint_id_token(user, id_request, emulator.keys.current)
    return params


def _code(request: AuthorizeRequest, user: User, emulator: EmulatorState) -> dict[str, str]:
    now = emulator.clock()
    code = AuthorizationCode(
        client_id=request.application.key,
        redirect_uri=request.redirect_uri,
        # The authorize checks refuse a code request without an S256 challenge.
        code_challenge=request.code_challenge or "",
        nonce=request.nonce,
        scope=GRAPH_SCOPES,
        tid=user.tid,
        oid=user.oid,
        expires_at=now + CODE_LIFETIME_SECONDS,
    )
    return {"code": emulator.codes.issue(code, now)}


def issue(request: AuthorizeRequest, user: User, emulator: EmulatorState) -> Response[Any]:
    """Finish a sign-in: redirect to the app with tokens (implicit) or a code (code flow)."""
    params = _code(request, user, emulator) if request.is_code_flow else _implicit(request, user, emulator)
    if request.state is not None:
        params["state"] = request.state
    params["session_state"] = str(uuid.uuid4())
    return redirect(request.redirect_uri, request.response_mode, params)
