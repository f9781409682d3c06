"""What the frontend sends and receives on the sign-in path."""

from datetime import datetime
from typing import Annotated

import msgspec

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
LoginCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class SignInRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    login_code: LoginCode
    id_token: Token
    """The id_token Microsoft returned to the popup (implicit flow) or to MSAL (code + PKCE)."""
    nonce: Secret
    """The nonce from GET /v1/login/{login_code}, passed to Microsoft; single use."""
    access_token: Token | None = None
    """The delegated Graph token (User.Read), when the frontend has one: a JWS or JWE in compact form
    (ASCII, at most 16 KiB), else refused with `access_token_malformed`."""
    access_token_expires_in: Annotated[int, msgspec.Meta(ge=1, le=86400)] | None = None
    """Seconds until the access token expires, as MSAL reports it."""
    verification_code: Secret | None = None
    """Only for the IT admin's verification sign-in that pins a pending connection's directory."""


class SignInResponse(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    tenant_id: str
    session_token: str
    token_type: str
    expires_at: datetime
    event_id: str
    directory_verified: bool = False
    """True when this sign-in was the verification that pinned the connection's directory."""


class LoginConfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the login page needs to render and start Microsoft sign-in."""

    login_code: str
    organisation_name: str
    user_note: str | None
    client_id: str
    authority: str
    scopes: list[str]
    popup_help: dict[str, str]
    """How to allow pop-ups in Chrome, Firefox and Edge: the most common reason sign-in fails."""
    nonce: str
    """Pass to Microsoft as `nonce`, and back with the sign-in. Single use."""
    nonce_expires_at: datetime
    status: str
    """`active`, or `pending_verification` (only the IT admin's verification sign-in can succeed)."""
    sign_in_flow: str = "implicit"
    """Which of Microsoft's browser flows to run: `implicit` (`response_type=id_token token`, tokens in the URL
    fragment) or `pkce` (`response_type=code` with S256 PKCE, redeemed from the browser at the token endpoint)."""
    redirect_uri: str = ""
    """The redirect URI registered on the app registration; pass it to Microsoft as `redirect_uri`."""


class MicrosoftErrorReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What Microsoft returned to the popup instead of tokens."""

    error: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    error_description: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    error_codes: Annotated[list[int], msgspec.Meta(max_length=10)] = []


class MicrosoftErrorGuidance(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    detail: str
    admin_hint: str | None
    retry: bool
