"""What an interactive sign-in holds between requests: the flow (`flowToken`) and authorization codes.

A flow carries a checked authorize request from the account picker to the consent page; a code
carries the signed-in person and the request's PKCE challenge and nonce to the token endpoint.
Both live in memory, expire on the state's clock and are pruned as new ones are made.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from kutamo_dev.emulator.applications import Application

__all__ = [
    "CODE_LIFETIME_SECONDS",
    "FLOW_LIFETIME_SECONDS",
    "AuthorizationCode",
    "AuthorizeRequest",
    "Codes",
    "Flow",
    "Flows",
    "ResponseMode",
]

FLOW_LIFETIME_SECONDS = 15 * 60
CODE_LIFETIME_SECONDS = 10 * 60

ResponseMode = Literal["query", "fragment"]


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """An authorize request that passed every check; `tid` is None for organizations/common."""

    tenant: str
    tid: str | None
    application: Application
    redirect_uri: str
    response_types: frozenset[str]
    response_mode: ResponseMode
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: str | None
    login_hint: str | None
    client_request_id: str | None

    @property
    def is_code_flow(self) -> bool:
        """`response_type=code` (auth code + PKCE) rather than the implicit flow."""
        return "code" in self.response_types


@dataclass(slots=True)
class Flow:
    """One sign-in in progress; `account` is the chosen person's (tid, oid) once picked."""

    token: str
    request: AuthorizeRequest
    expires_at: float
    account: tuple[str, str] | None = None


class Flows:
    """Sign-ins in progress by flow token."""

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}

    def start(self, request: AuthorizeRequest, now: float) -> Flow:
        """Begin a sign-in that must finish within FLOW_LIFETIME_SECONDS."""
        self._flows = {token: flow for token, flow in self._flows.items() if flow.expires_at > now}
        flow = Flow(token=secrets.token_urlsafe(24), request=request, expires_at=now + FLOW_LIFETIME_SECONDS)
        self._flows[flow.token] = flow
        return flow

    def get(self, token: str, now: float) -> Flow | None:
        """The live flow with this token, if any."""
        flow = self._flows.get(token)
        return flow if flow is not None and flow.expires_at > now else None

    def finish(self, token: str) -> None:
        """End a flow: it issued its answer (or was cancelled) and cannot be replayed."""
        self._flows.pop(token, None)

    def clear(self) -> None:
        """Forget every flow."""
        self._flows.clear()


@dataclass(slots=True)
class AuthorizationCode:
    """What a code stands for, and whether it was redeemed already (codes are single-use)."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    tid: str
    oid: str
    expires_at: float
    redeemed: bool = field(default=False)


class Codes:
    """Authorization codes by value; redeemed ones stay until they expire, so reuse is told apart."""

    def __init__(self) -> None:
        self._codes: dict[str, AuthorizationCode] = {}

    def issue(self, code: AuthorizationCode, now: float) -> str:
        """Store a code and return its opaque value."""
        # Expired codes are kept a while longer so their reuse reads "expired", not "malformed".
        horizon = now - CODE_LIFETIME_SECONDS
        self._codes = {value: kept for value, kept in self._codes.items() if kept.expires_at > horizon}
        value = f"1.A{secrets.token_urlsafe(64)}"
        self._codes[value] = code
        return value

    def get(self, value: str) -> AuthorizationCode | None:
        """The code with this value, expired or not, redeemed or not."""
        return self._codes.get(value)

    def clear(self) -> None:
        """Forget every code."""
        self._codes.clear()
