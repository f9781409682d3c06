"""How the worker classifies failures, and the read API's problem+json errors.

ProvisioningError
 ├── DeadLetterNow       the message can never succeed as it is: dead-letter at once
 │    ├── MalformedEvent     not a UserSignedIn CloudEvent (headers, JSON or fields)
 │    └── Unstorable         PostgreSQL refuses a value of the event (found when a batch is retried one by one)
 ├── RetryLater          a dependency failed (Graph 429/5xx, timeouts): retried with backoff, bounded
 │    └── GraphFailed        Graph still failed after the retry bound: dead-lettered with its reason
 └── ApiError            an HTTP answer of the read API (status, stable code, sentence)

The class name is what a dead letter's `dlq_error_class` header carries; `code` is its reason.
"""


class ProvisioningError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


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


class ApiError(ProvisioningError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.status = status
