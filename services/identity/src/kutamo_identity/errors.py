"""The identity service's errors; kutamo_kit.problems turns them (and framework errors) into problem+json.

    IdentityError                 every error a client may see (a kutamo_kit ProblemError)
     ├── BadRequest               400  malformed_request
     ├── NotFound                 404  e.g. unknown_login_code, tenant_not_found
     ├── Unauthorized             401  no or an unknown API key
     ├── Forbidden                403  a key of another tenant or too small a scope
     ├── Conflict                 409  e.g. login_code_taken
     ├── SignInRefused            401/403  the Microsoft token or the connection says no
     ├── TooManyRequests          429  rate_limited, with Retry-After
     └── Unavailable              503  a dependency is down

Each instance carries a stable machine `code`, a `detail` sentence the signing-in person can act on,
and, where it helps, an `admin_hint` for the organisation's IT admin. Titles follow from the status.
"""

from kutamo_kit.problems import BodyDepthGuardedRequest, ProblemError, problem_responses

__all__ = [
    "BadRequest",
    "BodyDepthGuardedRequest",
    "Conflict",
    "Forbidden",
    "IdentityError",
    "NotFound",
    "SignInRefused",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "problem_responses",
]


class IdentityError(ProblemError):
    status = 400


class BadRequest(IdentityError):
    status = 400


class NotFound(IdentityError):
    status = 404


class Unauthorized(IdentityError):
    status = 401


class Forbidden(IdentityError):
    status = 403


class Conflict(IdentityError):
    status = 409


class SignInRefused(IdentityError):
    status = 401


class TooManyRequests(IdentityError):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "rate_limited",
            f"Too many requests from your address; try again in {retry_after} second{'s' if retry_after != 1 else ''}.",
            retry_after=retry_after,
        )


class Unavailable(IdentityError):
    status = 503
