"""What IT admins and operators send and receive on the admin API. Field docs feed the OpenAPI document."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

SignInFlow = Literal["implicit", "pkce"]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Contoso Ltd"])]


class TenantCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    display_name: DisplayName


class Tenant(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    display_name: str
    created_at: datetime


class ApiKeyCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["Contoso IT admin console"])] = "api key"


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    scope: Literal["operator", "tenant-admin"]
    name: str
    prefix: str
    """The first characters of the key, to recognise it; the key itself is never shown again."""
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey, frozen=True, kw_only=True):
    key: str
    """The API key. Shown once, now: store it safely; Kutamo keeps only its hash."""


class AzureAdConnectionPut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the IT admin enters on Advanced Options > Active Directory."""

    application_id: Annotated[str, msgspec.Meta(max_length=100, examples=["1b4e28ba-2fa1-11d2-883f-0016d3cca427"])]
    """Azure AD Application (client) ID: Microsoft Entra ID > App registrations > your app > Overview."""
    login_code: Annotated[str, msgspec.Meta(max_length=100, examples=["contoso"])]
    """3-32 letters or digits; users log in at /login/<code>."""
    user_note: Annotated[str, msgspec.Meta(max_length=5000, examples=["Use your Contoso work account."])] | None = None
    """Note to your users, shown on the login page as plain text (at most 500 characters)."""
    directory_id: (
        Annotated[str, msgspec.Meta(max_length=100, examples=["72f988bf-86f1-41af-91ab-2d7cd011db47"])] | None
    ) = None
    """Azure AD Directory (tenant) ID. From an operator it is pinned at once; from a tenant admin (or a setup
    link) it is proposed: the connection waits for a verification sign-in from exactly this directory. Without
    it, the directory already pinned or proposed is kept; with none, the verification sign-in pins its own."""
    allow_guests: bool | None = None
    """Let B2B guests of the directory (accounts whose home is another directory or a personal account) sign
    in. Off for a new connection; omitted: unchanged."""
    sign_in_flow: SignInFlow | None = None
    """Microsoft's browser flow for the login page: `implicit` (the default for a new connection; the app
    registration needs 'ID tokens' and 'Access tokens' under implicit grant) or `pkce` (authorization code with
    PKCE; needs a Single-page application redirect URI). Omitted: unchanged."""


class AzureAdConnection(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    application_id: str
    login_code: str
    login_url: str
    user_note: str | None
    directory_id: str | None
    """The pinned Azure directory: only its accounts can sign in. Null until a verification sign-in pins it."""
    status: Literal["pending_verification", "active", "disabled"]
    sign_in_flow: SignInFlow
    redirect_uri: str
    """Register exactly this redirect URI on the app registration (Single-page application for `pkce`)."""
    created_at: datetime
    updated_at: datetime
    proposed_directory_id: str | None = None
    """A directory entered by a tenant admin, pinned only by a verification sign-in from it."""
    verification_required: bool = False
    """True while no directory is pinned: the IT admin's verification sign-in (with a verification code) pins
    the proposed directory, or, when none is proposed, the directory of the account signing in."""
    allow_guests: bool = False
    """Whether B2B guests may sign in (refused with `guest_not_allowed` otherwise)."""
    disabled_by_operator: bool = False
    """Disabled by a Kutamo operator: only an operator can turn sign-in back on."""


class DirectoryApproval(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An operator's approval that this tenant may pin a directory another tenant pinned for the same app."""

    directory_id: Annotated[str, msgspec.Meta(max_length=100, examples=["72f988bf-86f1-41af-91ab-2d7cd011db47"])]
    application_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    """The Application (client) ID of the pair; omitted: the tenant's connection's."""


class DirectoryApproved(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: uuid.UUID
    application_id: str
    directory_id: str
    approved_at: datetime
    approved_by: str


class VerificationCode(msgspec.Struct, frozen=True, kw_only=True):
    verification_code: str
    login_url: str
    """Open this link and sign in with a work account of the directory to pin."""
    expires_at: datetime


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    at: datetime
    actor: str
    """`api-key:<id>`, `operator-key:env`, `cli`, `setup-link:<id>`, or `microsoft:<tid>/<oid>` for the person
    whose verification sign-in pinned a directory."""
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    tenant_id: uuid.UUID | None = None
    """The tenant concerned; null for operators' own actions (their API keys)."""


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    entries: list[AuditEntry]
    next_before: int | None
    """Pass as `before` to get the next (older) page; null on the last page."""
