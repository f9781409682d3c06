"""How the worker classifies failures, and the read API's problem+json errors.

ProvisioningError
 ├── DeadLetterNow       the message can never succeed as it is: dead-letter at once
 │    ├── MalformedEvent     not a UserSignedIn CloudEvent (headers, JSON or fields)
 │    └── Unstorable         PostgreSQL refuses a value of the event (found when its batch is split up)
 └── RetryLater          retried with backoff, bounded, then dead-lettered with its reason
      ├── GraphFailed        Graph still failed after the retry bound (429/5xx, timeouts, bad answers)
      └── ProcessingFailed   anything else processing one event raised: its class and message, scrubbed

ApiError (a kutamo_kit ProblemError): an HTTP answer of the read API (status, stable code, sentence).

`error_class` is what a dead letter's `dlq_error_class` header carries (the unexpected exception's own
class for ProcessingFailed); `code` is its reason.
"""

import re
from collections.abc import Iterable
from pathlib import PurePath

from kutamo_kit.problems import ProblemError

_MAX_DETAIL = 500
# Whatever looks like a credential in an exception's message: a bearer value, or a JWS/JWE (whose
# header, base64url of '{"', always starts with eyJ).
_CREDENTIAL = re.compile(r"(?i:bearer)\s+\S+|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*")


class ProvisioningError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    @property
    def error_class(self) -> str:
        return type(self).__name__


class DeadLetterNow(ProvisioningError):
    pass


class MalformedEvent(DeadLetterNow):
    def __init__(self, detail: str) -> None:
        super().__init__("malformed_event", detail)


class Unstorable(DeadLetterNow):
    def __init__(self, detail: str) -> None:
        super().__init__("unstorable_event", detail)


class RetryLater(ProvisioningError):
    pass


class GraphFailed(RetryLater):
    pass


class ProcessingFailed(RetryLater):
    """An exception nobody expected while processing one event; `hide` lists secrets (the Graph token)
    that must not appear in its message, which ends in logs and in the dead letter."""

    def __init__(self, cause: BaseException, hide: Iterable[str] = ()) -> None:
        super().__init__("processing_failed", describe(cause, hide))
        self.cause_class = type(cause).__name__

    @property
    def error_class(self) -> str:
        return self.cause_class


class ApiError(ProblemError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail, status=status)


def describe(cause: BaseException, hide: Iterable[str] = ()) -> str:
    """The exception's message without secrets, and where it was raised (`package/module.py:line`)."""
    text = str(cause) or type(cause).__name__
    for secret in hide:
        for form in {secret, ascii(secret)[1:-1], repr(secret.encode("utf-8", "backslashreplace"))[2:-1]}:
            if form:
                text = text.replace(form, "[redacted]")
    text = _CREDENTIAL.sub("[redacted]", text)
    if len(text) > _MAX_DETAIL:
        text = text[:_MAX_DETAIL] + "…"
    frames = cause.__traceback__
    while frames is not None and frames.tb_next is not None:
        frames = frames.tb_next
    if frames is None:
        return text
    where = PurePath(frames.tb_frame.f_code.co_filename)
    return f"{text} (at {'/'.join(where.parts[-2:])}:{frames.tb_lineno})"
