"""The SCIM User resource as Kutamo keeps it: read from POST/PUT bodies, rendered for responses.

Only what the seed promises is kept (name, email, title) plus the identifiers SCIM matches on
(`userName`, `externalId` = the Azure object id) and `active`. Every other attribute of the RFC 7643
User schema or Microsoft's enterprise extension (phone numbers, addresses, manager, department, ...)
is accepted and dropped; an attribute outside those schemas is refused (invalidValue / invalidPath)
so a mistaken attribute mapping shows up in Entra's provisioning log instead of vanishing.
"""

import uuid
from datetime import datetime
from typing import Any

import msgspec

from kutamo_identity.scim.errors import bad

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAX_TEXT = 512

# RFC 7643 section 4.1 and 4.3 attributes (lower case): accepted; those not kept are dropped.
CORE_ATTRIBUTES = frozenset({
    "schemas", "id", "externalid", "meta", "username", "name", "displayname", "nickname", "profileurl", "title",
    "usertype", "preferredlanguage", "locale", "timezone", "active", "password", "emails", "phonenumbers", "ims",
    "photos", "addresses", "groups", "entitlements", "roles", "x509certificates",
})  # fmt: skip
ENTERPRISE_ATTRIBUTES = frozenset({"employeenumber", "costcenter", "organization", "division", "department", "manager"})


class UserState(msgspec.Struct, kw_only=True):
    """What Kutamo keeps of a provisioned user, in SCIM terms."""

    external_id: str
    user_name: str
    active: bool = True
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    title: str | None = None

    @property
    def name(self) -> str | None:
        """The full name downstream sees: displayName, else given and family name."""
        joined = " ".join(p for p in (self.given_name, self.family_name) if p)
        return self.display_name or joined or None


def boolean(value: Any, attribute: str = "active") -> bool:
    """SCIM booleans, also as Entra sometimes sends them: the strings "True"/"False" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise bad("invalidValue", f"{attribute} must be true or false, not {value!r}.")


def text(value: Any, attribute: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise bad("invalidValue", f"{attribute} is required.")
        return None
    if not isinstance(value, str):
        raise bad("invalidValue", f"{attribute} must be a string.")
    cleaned = value.replace("\x00", "").strip()
    if len(cleaned) > MAX_TEXT:
        raise bad("invalidValue", f"{attribute} is longer than {MAX_TEXT} characters.")
    return cleaned


def object_id(value: Any) -> str:
    """externalId must be the person's Azure object id: that is how Kutamo links them, never by email."""
    raw = text(value, "externalId", required=True)
    try:
        return str(uuid.UUID(raw or ""))
    except ValueError:
        raise bad(
            "invalidValue",
            f"externalId {raw!r} is not an Azure object id (a GUID). In Entra's attribute mappings, map "
            "objectId to externalId (Entra's default maps mailNickname); Kutamo links people by it.",
        ) from None


def work_email(emails: Any) -> str | None:
    """The work (or primary, or first) address of a multi-valued `emails`."""
    if emails is None:
        return None
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise bad("invalidValue", "emails must be a list of objects with a value.")
    if not emails:
        return None
    chosen = next((e for e in emails if str(e.get("type", "")).lower() == "work"), None)
    chosen = chosen or next((e for e in emails if e.get("primary") in (True, "True", "true")), emails[0])
    return text(chosen.get("value"), "emails.value")


def check_known(document: dict[str, Any]) -> None:
    for key, value in document.items():
        lowered = key.lower()
        if lowered == ENTERPRISE_SCHEMA.lower():
            if not isinstance(value, dict):
                raise bad("invalidValue", f"{ENTERPRISE_SCHEMA} must be an object.")
            unknown = [k for k in value if k.lower() not in ENTERPRISE_ATTRIBUTES | {"schemas"}]
            if unknown:
                raise bad("invalidValue", f"Unknown enterprise attribute {unknown[0]!r}; remove its mapping.")
        elif lowered not in CORE_ATTRIBUTES:
            raise bad(
                "invalidValue",
                f"Unknown attribute {key!r}: it is not part of the SCIM User schema. Remove it from the "
                "attribute mappings.",
            )


def from_document(document: Any) -> UserState:
    """A User from a POST or PUT body (a replacement: what it omits is cleared)."""
    if not isinstance(document, dict):
        raise bad("invalidSyntax", "The body must be a JSON object: a SCIM User resource.")
    schemas = document.get("schemas")
    if not isinstance(schemas, list) or USER_SCHEMA not in schemas:
        raise bad("invalidSyntax", f"The body's schemas must include {USER_SCHEMA!r}.")
    check_known(document)
    fields = {k.lower(): v for k, v in document.items()}
    name = fields.get("name") or {}
    if not isinstance(name, dict):
        raise bad("invalidValue", "name must be an object (givenName, familyName, formatted).")
    names = {k.lower(): v for k, v in name.items()}
    return UserState(
        external_id=object_id(fields.get("externalid")),
        user_name=text(fields.get("username"), "userName", required=True) or "",
        active=boolean(fields["active"]) if "active" in fields else True,
        display_name=text(fields.get("displayname"), "displayName") or text(names.get("formatted"), "name.formatted"),
        given_name=text(names.get("givenname"), "name.givenName"),
        family_name=text(names.get("familyname"), "name.familyName"),
        email=work_email(fields.get("emails")),
        title=text(fields.get("title"), "title"),
    )


class Meta(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    version: int
    created_at: datetime
    updated_at: datetime


ALWAYS_RETURNED = frozenset({"id", "schemas", "meta"})


def project(resource: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """`attributes` / `excludedAttributes` (RFC 7644 section 3.4.2.5), on top-level attribute names;
    id, schemas and meta are always returned."""
    if attributes:
        wanted = {_top(a) for a in attributes.split(",")} | ALWAYS_RETURNED
        return {k: v for k, v in resource.items() if k.lower() in wanted}
    if excluded:
        unwanted = {_top(a) for a in excluded.split(",")} - ALWAYS_RETURNED
        return {k: v for k, v in resource.items() if k.lower() not in unwanted}
    return resource


def _top(attribute: str) -> str:
    name = attribute.strip()
    for schema in (USER_SCHEMA, ENTERPRISE_SCHEMA):
        if name.lower().startswith(schema.lower() + ":"):
            name = name[len(schema) + 1 :]
    return name.split(".")[0].lower()


def render(state: UserState, meta: Meta, base_url: str) -> dict[str, Any]:
    """The User resource as responses show it (RFC 7643 section 4.1; attributes without a value are left out)."""
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(meta.user_id),
        "externalId": state.external_id,
        "userName": state.user_name,
        "active": state.active,
    }
    name = {k: v for k, v in (("givenName", state.given_name), ("familyName", state.family_name)) if v}
    if state.display_name:
        resource["displayName"] = state.display_name
    if state.name:
        name["formatted"] = state.name
    if name:
        resource["name"] = name
    if state.email:
        resource["emails"] = [{"value": state.email, "type": "work", "primary": True}]
    if state.title:
        resource["title"] = state.title
    resource["meta"] = {
        "resourceType": "User",
        "created": meta.created_at.isoformat().replace("+00:00", "Z"),
        "lastModified": meta.updated_at.isoformat().replace("+00:00", "Z"),
        "location": f"{base_url}/scim/v2/Users/{meta.user_id}",
        "version": f'W/"{meta.version}"',
    }
    return resource
