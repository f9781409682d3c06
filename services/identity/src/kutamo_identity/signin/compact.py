"""The compact serialisation of JWS and JWE: base64url segments joined by dots, read strictly.

Strictly means the URL-safe alphabet, no padding, and only the one spelling an encoder produces for
the bytes; a lax decoder skips characters it does not know, so `<token>!!!` would read as `<token>`.
"""

import base64
import re
from typing import Any

import msgspec

MAX_ACCESS_TOKEN_CHARS = 16 * 1024
"""Far above any Microsoft Graph access token (a few KiB; group lists past 200 become an overage claim)."""

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_header = msgspec.json.Decoder(dict[str, Any])


# The last character of a segment whose length is 2 or 3 past a multiple of 4 carries 4 or 2 unused bits: an
# encoder leaves them zero, so only these characters end a canonical segment of that length.
_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


def is_b64url(segment: str) -> bool:
    """Whether `b64url(segment)` would succeed, without decoding it."""
    if not _SEGMENT.fullmatch(segment):
        return False
    tail = len(segment) % 4
    return tail == 0 or (tail != 1 and segment[-1] in _LAST[tail])


def b64url(segment: str) -> bytes:
    """The bytes of one base64url segment; ValueError unless it is exactly how they are encoded."""
    if not is_b64url(segment):
        raise ValueError("not base64url, or not the canonical base64url of its bytes")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def is_jose_compact(token: str, max_chars: int = MAX_ACCESS_TOKEN_CHARS) -> bool:
    """A JWS (3 segments) or JWE (5) in compact form: ASCII, at most `max_chars`, every segment
    base64url, a JSON object as its header, and a payload (JWS) or ciphertext (JWE) that is not empty."""
    if len(token) > max_chars or not token.isascii():
        return False
    parts = token.split(".")
    if len(parts) not in (3, 5) or not parts[0] or not parts[1 if len(parts) == 3 else 3]:
        return False
    if not all(is_b64url(part) for part in parts[1:]):  # read, not decoded: the payload is most of the token
        return False
    try:
        _header.decode(b64url(parts[0]))
    except (ValueError, msgspec.DecodeError):
        return False
    return True
