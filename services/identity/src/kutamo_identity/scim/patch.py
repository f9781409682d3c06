"""PATCH (RFC 7644 section 3.5.2) as Entra sends it, applied to a copy of a UserState.

Entra's habits, all accepted: `op` capitalised ("Replace", "Add", "Remove"); an operation without
`path` whose value is an object of attributes; `active` as the string "False"/"True"; paths like
`emails[type eq "work"].value`, `name.givenName` and the enterprise extension's
`urn:...:enterprise:2.0:User:manager` (accepted, not kept).
"""

import copy
import re
from typing import Any

from kutamo_identity.scim import resources
from kutamo_identity.scim.errors import bad
from kutamo_identity.scim.resources import UserState

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS = 100
_OPS = ("add", "replace", "remove")
_VALUE_FILTER = re.compile(r'^(?P<attr>\w+)\[\s*type\s+eq\s+"(?P<type>[^"]*)"\s*\](?:\.(?P<sub>\w+))?$', re.I)
_PLAIN = re.compile(r"^(?P<attr>\w+)(?:\.(?P<sub>\w+))?$")


def apply(state: UserState, document: Any) -> UserState:
    if not isinstance(document, dict):
        raise bad("invalidSyntax", "The body must be a JSON object: a SCIM PatchOp message.")
    if PATCH_SCHEMA not in (document.get("schemas") or []):
        raise bad("invalidSyntax", f"The body's schemas must be [{PATCH_SCHEMA!r}].")
    operations = document.get("Operations", document.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise bad("invalidSyntax", "Operations must be a non-empty list.")
    if len(operations) > MAX_OPERATIONS:
        raise bad("tooMany", f"At most {MAX_OPERATIONS} operations per request.")
    result = copy.copy(state)
    for operation in operations:
        _operation(result, operation)
    return result


def _operation(state: UserState, operation: Any) -> None:
    if not isinstance(operation, dict):
        raise bad("invalidSyntax", "Each operation must be an object with op, path and value.")
    op = str(operation.get("op", "")).lower()
    if op not in _OPS:
        raise bad("invalidSyntax", f"op must be add, replace or remove, not {operation.get('op')!r}.")
    path, value = operation.get("path"), operation.get("value")
    if path is None or path == "":
        if op == "remove":
            raise bad("noTarget", "A remove operation needs a path.")
        if not isinstance(value, dict):
            raise bad("invalidValue", "An operation without a path needs an object of attributes as its value.")
        for key, item in value.items():
            _set(state, str(key), item)
        return
    if not isinstance(path, str):
        raise bad("invalidPath", "path must be a string.")
    _set(state, path, None if op == "remove" else value)


def _set(state: UserState, path: str, value: Any) -> None:
    path = path.strip()
    lowered = path.lower()
    if lowered.startswith(resources.ENTERPRISE_SCHEMA.lower()):
        rest = path[len(resources.ENTERPRISE_SCHEMA) :].lstrip(":.")
        if isinstance(value, dict) and not rest:
            resources.check_known({resources.ENTERPRISE_SCHEMA: value})
            return
        if rest.split(".")[0].lower() not in resources.ENTERPRISE_ATTRIBUTES:
            raise bad("invalidPath", f"Unknown attribute path {path!r}.")
        return  # accepted, not kept (manager, department, ...)
    if lowered.startswith(resources.USER_SCHEMA.lower()):
        path = path[len(resources.USER_SCHEMA) :].lstrip(":")
    filtered = _VALUE_FILTER.match(path)
    if filtered:
        attr, kind, sub = filtered["attr"].lower(), filtered["type"].lower(), (filtered["sub"] or "value").lower()
        if attr == "emails":
            if kind == "work" and sub == "value":
                state.email = resources.text(value, "emails.value")
            return
        if attr not in resources.CORE_ATTRIBUTES:
            raise bad("invalidPath", f"Unknown attribute path {path!r}.")
        return
    plain = _PLAIN.match(path)
    if not plain:
        raise bad("invalidPath", f"The path {path!r} is not one Kutamo understands.")
    attr, sub = plain["attr"].lower(), (plain["sub"] or "").lower()
    _set_attribute(state, attr, sub, value, path)


def _set_attribute(state: UserState, attr: str, sub: str, value: Any, path: str) -> None:  # noqa: PLR0912
    if attr == "active":
        if value is None:
            raise bad("mutability", "active cannot be removed; set it to true or false.")
        state.active = resources.boolean(value)
    elif attr == "username":
        if value is None:
            raise bad("mutability", "userName cannot be removed.")
        state.user_name = resources.text(value, "userName", required=True) or ""
    elif attr == "externalid":
        if value is None or resources.object_id(value) != state.external_id:
            raise bad(
                "mutability",
                "externalId is the person's Azure object id, which links them to their Kutamo user; it cannot "
                "change. Deprovision the user and provision the new object id instead.",
            )
    elif attr == "displayname":
        state.display_name = resources.text(value, "displayName")
    elif attr == "title":
        state.title = resources.text(value, "title")
    elif attr == "emails":
        state.email = resources.work_email(value) if value is not None else None
    elif attr == "name":
        if sub:
            _set_name(state, sub, value, path)
        elif value is None:
            state.given_name = state.family_name = None
        elif isinstance(value, dict):
            for key, item in value.items():
                _set_name(state, str(key).lower(), item, path)
        else:
            raise bad("invalidValue", "name must be an object (givenName, familyName, formatted).")
    elif attr not in resources.CORE_ATTRIBUTES or attr in ("id", "meta", "schemas"):
        raise bad("invalidPath", f"Unknown or read-only attribute path {path!r}.")
    # Other User attributes (phoneNumbers, addresses, locale, ...) are accepted and not kept.


def _set_name(state: UserState, sub: str, value: Any, path: str) -> None:
    if sub == "givenname":
        state.given_name = resources.text(value, "name.givenName")
    elif sub == "familyname":
        state.family_name = resources.text(value, "name.familyName")
    elif sub == "formatted":
        state.display_name = state.display_name or resources.text(value, "name.formatted")
    elif sub not in ("middlename", "honorificprefix", "honorificsuffix"):
        raise bad("invalidPath", f"Unknown attribute path {path!r}.")
