"""What the admin API says about setup links, and what the setup page sends and receives."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from kutamo_identity.tenants.schemas import AzureAdConnection


class SetupLinkCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=30)] = 7
    """How many days the link works (1 to 30)."""


class SetupLinkCreated(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    url: str
    """Hand this to the customer's IT admin. Shown once, now: Kutamo keeps only a hash of its secret."""
    created_at: datetime
    expires_at: datetime


class SetupLink(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    """When a setup session was last opened with it."""
    status: Literal["active", "expired", "revoked"]
    created_by: str
    """`api-key:<id>`, `operator-key:env` or `cli`."""


class SetupSessionOpen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    link: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    """The secret from the setup link's fragment (`#link=...`)."""


class SetupTenant(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    display_name: str


class SetupLinkRef(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    expires_at: datetime


class SetupState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the setup page needs to resume where the IT admin left off."""

    tenant: SetupTenant
    connection: AzureAdConnection | None
    """The Azure AD connection as the admin API shows it; null until step 2 is saved."""
    link: SetupLinkRef
    csrf_token: str
    """Send as `X-Kutamo-CSRF` on every POST, PUT and DELETE of the setup API."""
    redirect_uri: str
    """The redirect URI to register on the app registration (the login page's callback)."""
    login_code_grace_days: int
    """Days an old login code keeps working after a change."""
    session_expires_at: datetime
    """When this setup session ends (an hour after the link was opened, or the link's expiry if sooner)."""


Availability = Literal["available", "taken", "reserved", "invalid", "current"]


class LoginCodeAvailability(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    availability: Availability
    login_url: str | None
    """The login page this code gives; null for an invalid or reserved code."""
    detail: str


class SignInSummary(msgspec.Struct, frozen=True, kw_only=True):
    at: datetime
    name: str | None
    """The person's name from their validated Microsoft token; null for a refused sign-in."""
    result: str
    """`ok`, or the refusal code (docs/errors.md), e.g. `directory_not_allowed`."""


class SignInList(msgspec.Struct, frozen=True, kw_only=True):
    sign_ins: list[SignInSummary]
