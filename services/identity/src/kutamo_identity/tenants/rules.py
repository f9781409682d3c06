"""Pure rules for what an IT admin enters: Application ID, login code, note to users."""

import re
import uuid

from kutamo_identity.errors import BadRequest

LOGIN_CODE = re.compile(r"^[A-Za-z0-9]{3,32}$")
# "callback" is the login pages' own redirect URI (/login/callback).
RESERVED_LOGIN_CODES = frozenset(
    {"admin", "login", "logout", "api", "www", "kutamo", "health", "metrics", "ops", "callback"}
)
USER_NOTE_MAX = 500


def parse_guid(value: str, field: str, where: str) -> uuid.UUID:
    try:
        parsed = uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        raise BadRequest(
            f"invalid_{field}", f"{field} must be a GUID like 1b4e28ba-2fa1-11d2-883f-0016d3cca427; {where}"
        ) from None
    if len(value.strip()) != 36:
        raise BadRequest(f"invalid_{field}", f"{field} must be written as 36 characters with dashes; {where}")
    return parsed


def parse_application_id(value: str) -> uuid.UUID:
    return parse_guid(
        value,
        "application_id",
        "copy it from the Azure portal: Microsoft Entra ID > App registrations > your app > Overview > "
        "Application (client) ID.",
    )


def parse_directory_id(value: str) -> uuid.UUID:
    return parse_guid(
        value,
        "directory_id",
        "copy it from the Azure portal: Microsoft Entra ID > Overview > Tenant ID.",
    )


def check_login_code(code: str) -> str:
    if not LOGIN_CODE.fullmatch(code):
        raise BadRequest(
            "invalid_login_code",
            "login_code must be 3 to 32 letters or digits (no spaces, dashes or accents).",
        )
    if code.lower() in RESERVED_LOGIN_CODES:
        raise BadRequest("reserved_login_code", f"login_code {code!r} is reserved by Kutamo; choose another.")
    return code


def check_user_note(note: str | None) -> str | None:
    if note is not None and len(note) > USER_NOTE_MAX:
        raise BadRequest("invalid_user_note", f"user_note must be at most {USER_NOTE_MAX} characters.")
    return check_text(note, "user_note") if note is not None else None


# Control characters other than tab and line breaks have no place in names and notes, and PostgreSQL
# cannot store NUL in text at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(value: str, field: str) -> str:
    if _CONTROL.search(value):
        raise BadRequest(f"invalid_{field}", f"{field} contains control characters; use plain text.")
    return value
