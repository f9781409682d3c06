"""Request and response bodies of the SCIM token admin API (/v1/tenants/{id}/scim-tokens)."""

import uuid
from datetime import datetime
from typing import Annotated

import msgspec


class ScimTokenCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "Entra provisioning"
    """What the token is for, e.g. the Entra enterprise application's name."""


class ScimToken(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    """The token's first characters, to recognise it; the token itself is never shown again."""
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    """The last SCIM request with this token (to the minute)."""


class ScimTokenCreated(ScimToken, frozen=True, kw_only=True):
    token: str
    """The secret token for Entra's Provisioning > Admin Credentials > Secret Token. Shown only now."""
    tenant_url: str
    """The Tenant URL for Entra's Provisioning > Admin Credentials."""
