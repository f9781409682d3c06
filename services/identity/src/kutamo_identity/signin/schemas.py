"""What the frontend sends and receives on the sign-in path."""

from datetime import datetime
from typing import Annotated

import msgspec

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=16384)]
LoginCode = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class SignInRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    login_code: LoginCode
    id_token: Token
    access_token: Token | None = None
    """The delegated Graph token (User.Read), when the frontend has one; treated as opaque."""
    access_token_expires_in: Annotated[int, msgspec.Meta(ge=1, le=86400)] | None = None
    """Seconds until the access token expires, as MSAL reports it."""
    nonce: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None


class SignInResponse(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    tenant_id: str
    session_token: str
    token_type: str
    expires_at: datetime
    event_id: str


class LoginConfiguration(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the login page needs to render and start Microsoft sign-in."""

    login_code: str
    organisation_name: str
    user_note: str | None
    client_id: str
    authority: str
    scopes: list[str]
