"""The log lines of both services and their relay processes: one JSON object per line, the same fields.

Operators search on these names across services: ts, level, logger, msg, service, and the
correlation fields — request_id, trace_id, tenant_id, user_id, event_id, topic, partition, offset —
bound for a whole request or message with `bound(...)`, or passed by a call site in `extra`.
"""

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import msgspec

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_encoder = msgspec.json.Encoder()
_context: ContextVar[dict[str, object]] = ContextVar("kutamo_log_context", default={})  # noqa: B039 - never mutated
_summary: ContextVar[str | None] = ContextVar("kutamo_log_summary", default=None)


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Add correlation fields to every log line written inside the block (this task only)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add correlation fields for the rest of the current task (a request handler, say)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


@contextlib.contextmanager
def request_line() -> Iterator[Callable[[str], str]]:
    """For the access line of one request: inside the block a handler may `summarise` what the request did;
    the block's value gives the line's message (the summary, or the default it is called with)."""
    token = _summary.set(None)
    try:
        yield lambda default: _summary.get() or default
    finally:
        _summary.reset(token)


def summarise(message: str, **fields: object) -> None:
    """Say what this request did in its one access line instead of a line of its own (a sign-in: one line,
    not two): `message` replaces the line's "request" and `fields` join it."""
    bind(**fields)
    _summary.set(message)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
            **_context.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(line).decode()


def configure(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka and uvicorn are chatty at INFO; their warnings still come through.
    for name in ("aiokafka", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
