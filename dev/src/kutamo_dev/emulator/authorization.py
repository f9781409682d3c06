"""The checks Microsoft runs on an authorize request, in Microsoft's order, as pure functions.

Until the app and its redirect URI are trusted, an error can only be shown on Microsoft's own page
(`ShowError`); after that it goes back to the redirect URI (`RedirectError`). `admit` says which
people the request may sign in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kutamo_dev.emulator import aadsts
from kutamo_dev.emulator.aadsts import AadError
from kutamo_dev.emulator.applications import Application, Applications
from kutamo_dev.emulator.authority import CONSUMERS_TENANT_ID, Tenant, resolve_tenant
from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.grants import AuthorizeRequest, ResponseMode

__all__ = ["Outcome", "RedirectError", "ShowError", "admit", "check_authorize", "may_pick"]

_MODES: dict[str, ResponseMode] = {"query": "query", "fragment": "fragment"}
_RESPONSE_TYPES = (frozenset({"id_token", "token"}), frozenset({"id_token"}), frozenset({"code"}))


@dataclass(frozen=True, slots=True)
class ShowError:
    """An error for Microsoft's own page: nothing goes back to the app."""

    error: AadError


@dataclass(frozen=True, slots=True)
class RedirectError:
    """An error sent back to the app's redirect URI."""

    error: AadError
    redirect_uri: str
    response_mode: ResponseMode
    state: str | None


Outcome = ShowError | RedirectError | AuthorizeRequest


def check_authorize(segment: str, params: Mapping[str, str], applications: Applications, now: float) -> Outcome:
    """Check tenant, app, redirect URI and audience (shown errors), then the flow (redirected errors)."""
    tenant = resolve_tenant(segment)
    if tenant is None:
        return ShowError(aadsts.tenant_not_found(segment))
    app = _trusted_app(tenant, params, applications, now)
    if isinstance(app, AadError):
        return ShowError(app)
    redirect_uri = params["redirect_uri"]

    raw_type = params.get("response_type", "")
    types = frozenset(raw_type.split())
    default_mode: ResponseMode = "query" if "code" in types else "fragment"
    # form_post is not emulated: any mode but query and fragment falls back to the flow's default.
    mode = _MODES.get(params.get("response_mode", ""), default_mode)
    state = params.get("state") or None
    nonce = params.get("nonce") or None
    error = _flow_error(raw_type, types, params, nonce)
    if error is None and "id_token" in types and not app.implicit_id_tokens:
        error = aadsts.id_token_disabled()
    if error is None and "token" in types and not app.implicit_access_tokens:
        error = aadsts.token_disabled()
    if error is not None:
        return RedirectError(error=error, redirect_uri=redirect_uri, response_mode=mode, state=state)
    return AuthorizeRequest(
        tenant=tenant.segment,
        tid=tenant.tid,
        application=app,
        redirect_uri=redirect_uri,
        response_types=types,
        response_mode=mode,
        scope=params["scope"],
        state=state,
        nonce=nonce,
        code_challenge=params.get("code_challenge") or None,
        prompt=params.get("prompt") or None,
        login_hint=params.get("login_hint") or None,
        client_request_id=params.get("client-request-id") or None,
    )


def _trusted_app(
    tenant: Tenant, params: Mapping[str, str], applications: Applications, now: float
) -> Application | AadError:
    """The app, once it and the redirect URI are known good; else the error for Microsoft's page."""
    client_id = params.get("client_id", "")
    if not client_id:
        return aadsts.missing_parameter("client_id")
    app = applications.find(client_id, now)
    # A single-tenant app exists only in its home directory; any other directory cannot find it.
    if app is None or (app.sign_in_audience == "single" and tenant.tid not in {None, str(app.home_tid)}):
        return aadsts.app_not_found(client_id, tenant.segment)
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        return aadsts.missing_parameter("redirect_uri")
    if app.redirect_type(redirect_uri) is None:
        return aadsts.redirect_mismatch(redirect_uri, app.key)
    if tenant.tid is None and app.sign_in_audience == "single":
        return aadsts.not_multi_tenant(app.key, app.display_name)
    return app


def _flow_error(raw_type: str, types: frozenset[str], params: Mapping[str, str], nonce: str | None) -> AadError | None:
    """What is wrong with the flow the request asks for, whatever the app allows."""
    if not raw_type:
        return aadsts.missing_parameter("response_type")
    if types not in _RESPONSE_TYPES:
        return aadsts.unsupported_response_type(raw_type)
    if "code" in types and (not params.get("code_challenge") or params.get("code_challenge_method") != "S256"):
        return aadsts.pkce_required()
    if "id_token" in types and nonce is None:
        return aadsts.nonce_missing()
    if not params.get("scope"):
        return aadsts.missing_parameter("scope")
    return None


def may_pick(request: AuthorizeRequest, user: User) -> bool:
    """Whether the account picker lists `user`: the directory's people, or every work account."""
    if request.tid is not None:
        return user.tid == request.tid
    return user.tid != CONSUMERS_TENANT_ID


def admit(request: AuthorizeRequest, user: User) -> AadError | None:
    """None when `user` may sign in here, else AADSTS50020 (the account is not in this tenant)."""
    if may_pick(request, user):
        return None
    app = request.application
    return aadsts.user_not_in_tenant(user.user_principal_name, user.tid, request.tenant, app.key, app.display_name)
