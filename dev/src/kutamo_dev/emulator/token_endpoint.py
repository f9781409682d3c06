"""Microsoft's token endpoint for the auth code + PKCE flow, answering browsers with CORS headers.

    OPTIONS /{tenant}/oauth2/v2.0/token   preflight: 204, allows POST and the requested headers
    POST    /{tenant}/oauth2/v2.0/token   form: grant_type=authorization_code, client_id, code,
                                          redirect_uri, code_verifier (scope is accepted, not used)

Every answer echoes the request's Origin in Access-Control-Allow-Origin, so a page can read the error
bodies. Like Microsoft, a code for an `spa` redirect URI is redeemed only cross-origin (with an
Origin header, else AADSTS9002327), and an Origin with a non-`spa` redirect URI gets AADSTS9002326.
Confidential clients are not modelled: no client secret is asked for. A failed redemption leaves
the code usable; a successful one spends it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from litestar import HttpMethod, Request, Response, route
from litestar.params import FromPath

from kutamo_dev.emulator import aadsts
from kutamo_dev.emulator.aadsts import AadError, Trace, json_body
from kutamo_dev.emulator.applications import Application
from kutamo_dev.emulator.authority import resolve_tenant
from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.grants import AuthorizationCode
from kutamo_dev.emulator.issuance import ACCESS_TOKEN_LIFETIME_SECONDS, EXPIRES_IN, ID_TOKEN_LIFETIME_SECONDS
from kutamo_dev.emulator.keys import b64url
from kutamo_dev.emulator.state import Emulator, EmulatorState
from kutamo_dev.emulator.tokens import IdTokenRequest, mint_graph_access_token, mint_id_token

__all__ = ["token_handlers"]

_PATH = "/{tenant:str}/oauth2/v2.0/token"


def _headers(request: Request[Any, Any, Any]) -> dict[str, str]:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", "Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier: base64url, unpadded, of its SHA-256."""
    return b64url(hashlib.sha256(verifier.encode("ascii", errors="replace")).digest())


def _code_error(code: AuthorizationCode, form: Mapping[str, str], client_id: str, now: float) -> AadError | None:
    """Why this code cannot be redeemed with this request, in the order Microsoft reports it."""
    verifier = form.get("code_verifier", "")
    checks: list[tuple[bool, Callable[[], AadError]]] = [
        (code.redeemed, aadsts.code_redeemed),
        (now >= code.expires_at, aadsts.code_expired),
        (code.client_id != client_id, lambda: aadsts.code_mismatch("client_id")),
        (code.redirect_uri != form["redirect_uri"], lambda: aadsts.code_mismatch("redirect_uri")),
        (not verifier, lambda: aadsts.missing_parameter("code_verifier")),
        (s256(verifier) != code.code_challenge, aadsts.verifier_mismatch),
    ]
    return next((error() for failed, error in checks if failed), None)


def _form_error(tenant: str, form: Mapping[str, str]) -> AadError | None:
    """What is missing or unsupported in the request itself."""
    if resolve_tenant(tenant) is None:
        return aadsts.tenant_not_found(tenant)
    grant_type = form.get("grant_type", "")
    if grant_type != "authorization_code":
        return aadsts.unsupported_grant_type(grant_type) if grant_type else aadsts.missing_parameter("grant_type")
    missing = next((name for name in ("client_id", "code", "redirect_uri") if not form.get(name)), None)
    return None if missing is None else aadsts.missing_parameter(missing)


def _client_error(app: Application, redirect_uri: str, origin: str | None) -> AadError | None:
    """Whether this app may redeem for this redirect URI from where the request comes."""
    redirect_type = app.redirect_type(redirect_uri)
    if origin is not None and redirect_type != "spa":
        return aadsts.cross_origin_not_spa(origin)
    if origin is None and redirect_type == "spa":
        return aadsts.spa_needs_cross_origin()
    return None


def _tokens(code: AuthorizationCode, user: User, emulator: EmulatorState) -> dict[str, Any]:
    issued_at = emulator.now()
    access_token = mint_graph_access_token(
        user, code.client_id, issued_at, ACCESS_TOKEN_LIFETIME_SECONDS, emulator.graph_key
    )
    id_request = IdTokenRequest(
        client_id=code.client_id,
        version="2.0",
        issued_at=issued_at,
        lifetime_seconds=ID_TOKEN_LIFETIME_SECONDS,
        nonce=code.nonce,
    )
    return {
        "token_type": "Bearer",
        "scope": code.scope,
        "expires_in": EXPIRES_IN,
        "ext_expires_in": EXPIRES_IN,
        "access_token": access_token,
        "id_token": mint_id_token(user, id_request, emulator.keys.current),
    }


def _redeem(
    tenant: str, form: Mapping[str, str], origin: str | None, emulator: EmulatorState
) -> AadError | dict[str, Any]:
    """The token response for a valid redemption (spending the code), else the first error."""
    error = _form_error(tenant, form)
    if error is not None:
        return error
    now = emulator.clock()
    app = emulator.applications.find(form["client_id"], now)
    if app is None:
        return aadsts.app_not_found(form["client_id"], tenant)
    error = _client_error(app, form["redirect_uri"], origin)
    if error is not None:
        return error
    code = emulator.codes.get(form["code"])
    user = None if code is None else emulator.directory.get(code.tid, code.oid)
    if code is None or user is None:
        return aadsts.code_malformed()
    error = _code_error(code, form, app.key, now)
    if error is not None:
        return error
    code.redeemed = True
    return _tokens(code, user, emulator)


def _preflight(request: Request[Any, Any, Any]) -> Response[Any]:
    """CORS preflight: any origin may POST with the headers it asks for (Content-Type at least)."""
    requested = request.headers.get("access-control-request-headers") or "Content-Type"
    headers = {
        **_headers(request),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": requested,
        "Access-Control-Max-Age": "86400",
    }
    return Response(content=None, status_code=204, headers=headers)


# One handler for both methods: Litestar would otherwise add its own OPTIONS answer, without CORS.
@route(_PATH, http_method=[HttpMethod.POST, HttpMethod.OPTIONS], status_code=200)
async def token(tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """Redeem an authorization code; errors are Microsoft's JSON with status 400."""
    if request.method == HttpMethod.OPTIONS:
        return _preflight(request)
    raw = await request.form()
    form = {key: value for key in raw if isinstance(value := raw.get(key), str)}
    outcome = _redeem(tenant, form, request.headers.get("origin") or None, emulator)
    if isinstance(outcome, AadError):
        client_request_id = request.query_params.get("client-request-id") or request.headers.get("client-request-id")
        trace = Trace.new(emulator.clock(), client_request_id)
        return Response(content=json_body(outcome, trace), status_code=400, headers=_headers(request))
    return Response(content=outcome, headers=_headers(request))


token_handlers = [token]
