"""Pure rules of directory binding: which directory a change pins or only proposes, and its refusals.

An operator's directory is pinned at once. A tenant admin's (or a setup link's) is only proposed: a
verification sign-in from exactly that directory pins it, so nobody can point their login page at
another organisation's directory on their word alone (decision 0008).
"""

import uuid
from typing import Any

from kutamo_identity.errors import Conflict, Forbidden
from kutamo_identity.tenants.keys import Principal


def directories(
    who: Principal, before: dict[str, Any] | None, entered: uuid.UUID | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """(pinned, proposed) directory of the connection after a PUT that entered `entered` (or nothing)."""
    pinned: uuid.UUID | None = before["directory_id"] if before else None
    proposed: uuid.UUID | None = before["proposed_directory_id"] if before else None
    if entered is None:
        return pinned, proposed
    if entered == pinned:
        return pinned, None
    if who.is_operator:
        return entered, None
    # Changing the directory releases the pinned one: sign-in waits for the new directory's proof.
    return None, entered


def pair_changes(before: dict[str, Any] | None, application_id: uuid.UUID, directory_id: uuid.UUID) -> bool:
    """Whether the pinned (application, directory) pair would differ from the one pinned before."""
    return before is None or (before["application_id"], before["directory_id"]) != (application_id, directory_id)


def already_bound() -> Conflict:
    return Conflict(
        "directory_already_bound",
        "Another Kutamo organisation already signs in with this Azure AD directory and Application ID. "
        "Kutamo lets one organisation bind them; if both are yours, ask Kutamo support to approve this "
        "one for the directory.",
    )


def disabled_by_operator() -> Forbidden:
    return Forbidden(
        "connection_disabled_by_operator",
        "Kutamo turned sign-in off for your organisation; only Kutamo support can turn it back on or remove it. "
        "Contact them.",
    )
