"""Event payloads: the single source of truth for what downstream teams receive on Kafka.

Each Struct is the JSON value of one record type (see `catalog.py` for its topic and type name).
Evolution rules within a version (`...v1`): a new field always has a default, so an old producer's
record still decodes; an existing field is never removed, renamed or retyped, and a required field is
never added. Consumers ignore fields they do not know. A change that breaks these rules is a new
version: a new Struct, type name and topic, published beside the old one. The docstring under each
field is copied into the published JSON Schema as its description.
"""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

Guid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


class UserSignedIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A person signed in to Kutamo with their organisation's Azure AD account."""

    event_id: Guid
    """Unique per sign-in; equals the CloudEvents `ce_id`. Consumers de-duplicate on it."""
    tenant_id: Guid
    """The Kutamo tenant (customer organisation) the person signed in to."""
    user_id: Guid
    """The stable Kutamo user id, linked to (azure_tid, azure_oid). Also the Kafka record key."""
    azure_tid: Guid
    """The Azure AD directory (tenant) id the token came from."""
    azure_oid: Guid
    """The person's immutable object id inside that directory."""
    signed_in_at: datetime
    """When the identity service accepted the sign-in (UTC). Orders a user's events."""
    login_code: str
    """The Kutamo login code the person used (`/login/<code>`)."""
    name: str | None = None
    """Display name from the id_token, if it carried one."""
    email: str | None = None
    """Email from the id_token (`email`, else `preferred_username`/`upn`). Informative only, never an identity key."""
    sealed_graph_token: str | None = None
    """The delegated Microsoft Graph token, sealed for the provisioning worker (AES-256-GCM), or null."""
    email_source: str | None = None
    """The id_token claim `email` came from: `email`, `preferred_username`, `upn` or `unique_name`; null with no
    email (and from producers older than this field)."""
    email_verified: bool = False
    """True only when the token's `xms_edov` claim says Microsoft verified the domain of the `email` claim. A
    false email is a label to show, never a key to link accounts by: in some directories anyone can set it."""


class UserProvisioned(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A Kutamo user record was created or updated from a sign-in."""

    event_id: Guid
    """Unique per provisioning outcome."""
    source_event_id: Guid
    """The `UserSignedIn.event_id` this record was built from."""
    tenant_id: Guid
    """The Kutamo tenant the user belongs to."""
    user_id: Guid
    """The stable Kutamo user id (`UserSignedIn.user_id`). Also the Kafka record key."""
    change: Literal["created", "updated", "unchanged"]
    """Whether the record was new, changed, or already up to date."""
    changed_fields: list[str] = []
    """Names of the fields that changed: any of name, email, title, avatar."""
    name: str | None = None
    """The user's display name, from Graph (or the id_token when Graph could not be read)."""
    email: str | None = None
    """The user's email, from Graph `mail` (or the id_token). Informative only, never an identity key."""
    title: str | None = None
    """The user's job title from Graph `jobTitle`, or null when the directory has none."""
    avatar_sha256: str | None = None
    """Content hash of the avatar image; fetch the image from the provisioning API: the user's signed
    `avatar_url` (GET /v1/users/{user_id}), or /v1/users/{user_id}/avatar with a session or operator key."""
    provisioned_at: datetime
    """When the provisioning worker applied the sign-in (UTC)."""
    profile_refreshed: bool = True
    """False when title and avatar could not be read from Graph this time and were kept as they were."""
    not_refreshed_reason: str | None = None
    """Why not, e.g. `graph_token_expired`, `graph_token_refused`, `avatar_too_large`."""
    email_source: str | None = None
    """Where `email` came from: `graph_mail`, `graph_user_principal_name`, or the id_token claim (`email`,
    `preferred_username`, `upn`, `unique_name`); null with no email (and from producers older than this field)."""
    email_verified: bool = False
    """True only for an id_token `email` whose domain Microsoft verified (`xms_edov`); Graph's `mail` and user
    principal name are never marked verified. Never link accounts by an unverified email."""


class UserErased(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """An operator erased a Kutamo user: every service deletes what it holds about them, and keeps nothing
    but the ids needed to ignore the user's older events still in flight."""

    event_id: Guid
    """Unique per erasure; equals the CloudEvents `ce_id`. Consumers de-duplicate on it."""
    tenant_id: Guid
    """The Kutamo tenant the user belonged to."""
    user_id: Guid
    """The erased Kutamo user id. Also the Kafka record key, so it follows the user's earlier events."""
    erased_at: datetime
    """When the identity service erased the user (UTC). Ignore the user's events from before it."""
    scope: Literal["user", "tenant"]
    """`user`: this user alone was erased; `tenant`: the whole tenant was, one such event per user."""


class UserLifecycleChanged(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """The customer's directory (Azure AD / Entra ID, through SCIM) created, changed, deactivated,
    reactivated or deleted a Kutamo user. Each event carries the user's whole directory state after the change."""

    event_id: Guid
    """Unique per change; equals the CloudEvents `ce_id`. Consumers de-duplicate on it."""
    tenant_id: Guid
    """The Kutamo tenant the user belongs to."""
    user_id: Guid
    """The stable Kutamo user id (the SCIM resource id). Also the Kafka record key."""
    azure_tid: Guid
    """The tenant's pinned Azure AD directory id."""
    azure_oid: Guid
    """The person's object id in that directory (SCIM `externalId`, mapped from Entra's `objectId`)."""
    change: Literal["created", "updated", "deactivated", "reactivated", "deleted"]
    """What the directory did. `deactivated`/`reactivated` when `active` flipped (other attributes may
    have changed too); `deleted` is final for this record and carries no personal data."""
    active: bool
    """Whether the person may use Kutamo after this change; false for deactivated and deleted users."""
    version: int
    """Increases by one with every change of this user; apply an event only when it is newer than what you hold."""
    changed_at: datetime
    """When the identity service accepted the change (UTC)."""
    name: str | None = None
    """Display name from the directory; null when deleted or not sent."""
    email: str | None = None
    """Work email from the directory. Informative only, never an identity key; null when deleted."""
    title: str | None = None
    """Job title from the directory; null when deleted or not sent."""


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A message the provisioning worker gave up on, kept whole so an operator can replay it."""

    reason: str
    """Stable machine code of the failure, e.g. `malformed_event`, `graph_unavailable`."""
    detail: str
    """A sentence for a person; never contains a token."""
    topic: str
    """The topic the original record was read from."""
    partition: int
    """The original record's partition."""
    offset: int
    """The original record's offset in that partition."""
    key: str | None
    """The original record key as text (the Kutamo user id for user events), or null."""
    headers: dict[str, str]
    """The original record's headers as text (its CloudEvents `ce_*` attributes among them)."""
    value: str
    """The original record value, as text (UTF-8, replacement characters for invalid bytes)."""
    failed_at: datetime
    """When the worker gave up (UTC)."""
    attempts: int = 1
    """How many times the worker tried before giving up."""
    error_class: str | None = None
    """The worker's name for the failure class, e.g. `MalformedEvent`, `GraphFailed`."""
    value_base64: str | None = None
    """The original value, exactly, when it was not valid UTF-8 (then `value` is lossy); replay uses it."""
