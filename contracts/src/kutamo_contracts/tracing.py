"""W3C trace context (`traceparent`), carried from the HTTP request through the outbox and Kafka
headers into the worker, so one sign-in can be followed end to end in the logs of both services."""

import random
import re

_random = random.Random()  # noqa: S311 - ids, not secrets (see continue_or_start)
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def parse(header: str | None) -> tuple[str, str] | None:
    """(trace_id, parent span id) of a valid version-00 traceparent, else None."""
    match = _TRACEPARENT.match((header or "").strip().lower())
    if match is None or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1), match.group(2)


def continue_or_start(header: str | None) -> str:
    """A traceparent for our own span: a child of the caller's trace, or a new trace."""
    parsed = parse(header) if header else None
    # Trace and span ids need to be unique, not secret: a fast PRNG, seeded from the OS, is enough.
    if parsed is None:
        ids = f"{_random.getrandbits(192):048x}"
        return f"00-{ids[:32]}-{ids[32:]}-01"
    return f"00-{parsed[0]}-{_random.getrandbits(64):016x}-01"


def trace_id(header: str | None) -> str | None:
    parsed = parse(header)
    return parsed[0] if parsed else None
