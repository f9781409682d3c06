"""Microsoft's interactive authorize endpoint: checks, account picker, consent, then the redirect back.

    GET  /{tenant}/oauth2/v2.0/authorize   check the request (see authorization.py), show the picker
    POST /{tenant}/oauth2/v2.0/authorize   flowToken + `account` ("tid:oid", a listed button) or
                                           `loginfmt` (a typed UPN): consent page or redirect
    POST /{tenant}/oauth2/v2.0/consent     flowToken + decision=accept|cancel

There is no sign-in session: every authorize request shows the picker, whatever `prompt` says.
Consent is asked once per (tid, oid, client_id), or again with prompt=consent.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath

from kutamo_dev.emulator import aadsts
from kutamo_dev.emulator.aadsts import AadError, Trace, redirect_params
from kutamo_dev.emulator.authority import resolve_tenant
from kutamo_dev.emulator.authorization import RedirectError, ShowError, admit, check_authorize, may_pick
from kutamo_dev.emulator.directory import User
from kutamo_dev.emulator.grants import Flow
from kutamo_dev.emulator.issuance import issue, redirect, redirect_error
from kutamo_dev.emulator.signin_pages import consent_page, error_page, html, picker_page
from kutamo_dev.emulator.state import Emulator, EmulatorState

__all__ = ["authorize_handlers"]

# Relative form actions: they resolve under /{tenant}/oauth2/v2.0/ even behind a path prefix.
_PICK_ACTION = "authorize"
_CONSENT_ACTION = "consent"
_UNKNOWN_USERNAME = "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin."
_EMPTY_USERNAME = "Enter a valid email address, phone number, or Skype name."


def _show(error: AadError, emulator: EmulatorState, client_request_id: str | None) -> Response[str]:
    """Microsoft's error page: the person sees it, the app hears nothing."""
    return html(error_page(error, Trace.new(emulator.clock(), client_request_id)))


def _picker(flow: Flow, emulator: EmulatorState, message: str | None = None) -> Response[str]:
    users = [user for user in emulator.directory.users() if may_pick(flow.request, user)]
    return html(picker_page(_PICK_ACTION, flow.token, users, flow.request.login_hint, message))


def _field(form: FormMultiDict, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def _live_flow(
    tenant: str, request: Request[Any, Any, Any], emulator: EmulatorState
) -> tuple[Flow | None, FormMultiDict]:
    """The flow a posted form continues, if it is alive and was started on this tenant path."""
    form = await request.form()
    flow = emulator.flows.get(_field(form, "flowToken"), emulator.clock())
    resolved = resolve_tenant(tenant)
    if flow is None or resolved is None or resolved.segment != flow.request.tenant:
        return None, form
    return flow, form


@get("/{tenant:str}/oauth2/v2.0/authorize", sync_to_thread=False)
def authorize(tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """Check the request like Microsoft, then show the account picker."""
    params = {key: str(request.query_params.get(key)) for key in request.query_params}
    outcome = check_authorize(tenant, params, emulator.applications, emulator.clock())
    if isinstance(outcome, ShowError):
        return _show(outcome.error, emulator, params.get("client-request-id"))
    if isinstance(outcome, RedirectError):
        trace = Trace.new(emulator.clock(), params.get("client-request-id"))
        return redirect(
            outcome.redirect_uri, outcome.response_mode, redirect_params(outcome.error, trace, outcome.state)
        )
    return _picker(emulator.flows.start(outcome, emulator.clock()), emulator)


def _chosen(form: FormMultiDict, flow: Flow, emulator: EmulatorState) -> User | str:
    """The person picked or typed, or the message the picker shows instead."""
    account = _field(form, "account")
    if account:
        tid, _, oid = account.partition(":")
        user = emulator.directory.get(tid, oid)
        return user if user is not None else _UNKNOWN_USERNAME
    typed = _field(form, "loginfmt")
    if not typed:
        return _EMPTY_USERNAME
    user = emulator.directory.by_upn(typed, prefer_tid=flow.request.tid)
    return user if user is not None else _UNKNOWN_USERNAME


@post("/{tenant:str}/oauth2/v2.0/authorize", status_code=200)
async def choose_account(tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """The picker's answer: ask for consent when needed, else send the app its answer."""
    flow, form = await _live_flow(tenant, request, emulator)
    if flow is None:
        return _show(aadsts.flow_expired(), emulator, None)
    chosen = _chosen(form, flow, emulator)
    if isinstance(chosen, str):
        return _picker(flow, emulator, chosen)
    refusal = admit(flow.request, chosen)
    if refusal is not None:
        emulator.flows.finish(flow.token)
        return _show(refusal, emulator, flow.request.client_request_id)
    flow.account = (chosen.tid, chosen.oid)
    client_id = flow.request.application.key
    if flow.request.prompt == "consent" or not emulator.consents.given(chosen.tid, chosen.oid, client_id):
        return html(consent_page(_CONSENT_ACTION, flow.token, flow.request.application.display_name, chosen))
    emulator.flows.finish(flow.token)
    return issue(flow.request, chosen, emulator)


@post("/{tenant:str}/oauth2/v2.0/consent", status_code=200)
async def decide_consent(tenant: FromPath[str], request: Request[Any, Any, Any], emulator: Emulator) -> Response[Any]:
    """Accept remembers the consent and answers the app; anything else is Cancel (AADSTS65004)."""
    flow, form = await _live_flow(tenant, request, emulator)
    user = None if flow is None or flow.account is None else emulator.directory.get(*flow.account)
    if flow is None or user is None:
        return _show(aadsts.flow_expired(), emulator, None)
    emulator.flows.finish(flow.token)
    if _field(form, "decision") != "accept":
        return redirect_error(flow.request, aadsts.consent_declined(), emulator)
    emulator.consents.give(user.tid, user.oid, flow.request.application.key)
    return issue(flow.request, user, emulator)


authorize_handlers = [authorize, choose_account, decide_consent]
