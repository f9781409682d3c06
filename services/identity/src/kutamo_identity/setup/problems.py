"""The refusals of setup links and setup sessions. They say whom to ask and nothing about the tenant:
the body is the same whichever tenant the link belonged to. docs/errors.md lists the same table."""

import msgspec

from kutamo_identity.errors import IdentityError


class SetupProblem(msgspec.Struct, frozen=True):
    status: int
    detail: str


_ASK = "Ask the person at Kutamo who sent it to you for a new one."

CATALOGUE: dict[str, SetupProblem] = {
    "setup_link_unknown": SetupProblem(404, "This setup link is not valid. " + _ASK),
    "setup_link_expired": SetupProblem(410, "This setup link has expired. " + _ASK),
    "setup_link_revoked": SetupProblem(410, "This setup link has been withdrawn and no longer works. " + _ASK),
    "setup_session_required": SetupProblem(
        401, "Your setup session has ended or was never opened. Open your setup link again."
    ),
    "csrf_failed": SetupProblem(
        403,
        "This request did not come from the setup page. Reload the setup page and try again.",
    ),
}


def setup_problem(code: str) -> IdentityError:
    found = CATALOGUE[code]
    return IdentityError(code, found.detail, status=found.status)
