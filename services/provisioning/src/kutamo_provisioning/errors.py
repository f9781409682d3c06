"""How the worker classifies failures, and the read API's problem+json errors.

ProvisioningError
 ├── DeadLetterNow     the message can never succeed as it is (malformed, wrong type): dead-letter at once
 ├── RetryLater        a dependency failed (Graph 5xx, timeouts): retry a bounded number of times, then dead-letter
 └── ApiError          an HTTP answer of the read API (status, stable code, sentence)
"""


class ProvisioningError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class DeadLetterNow(ProvisioningError):
    pass


class RetryLater(ProvisioningError):
    pass


class ApiError(ProvisioningError):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.status = status
