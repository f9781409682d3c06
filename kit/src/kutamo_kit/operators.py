"""The operator key both services accept, in one header: `Authorization: Bearer <key>`.

The key is compared in constant time, as SHA-256 digests so its length leaks nothing either, and is
never stored or logged. The worker's former `X-Operator-Key` header is still accepted for one release
(deprecated): the first use in a process is logged once, at warning.
"""

import hashlib
import hmac
import logging

__all__ = ["DEPRECATED_HEADER", "OperatorKey", "bearer"]

log = logging.getLogger("kutamo_kit.operators")

DEPRECATED_HEADER = "x-operator-key"


def bearer(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <credential>` header, or None without one."""
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    return authorization[7:].strip() or None


class OperatorKey:
    def __init__(self, key: str | None) -> None:
        self._digest = hashlib.sha256(key.encode()).digest() if key else None
        self._warned = False

    @property
    def configured(self) -> bool:
        return self._digest is not None

    def matches(self, offered: str) -> bool:
        digest = hashlib.sha256(offered.encode()).digest()
        return self._digest is not None and hmac.compare_digest(digest, self._digest)

    def deprecated_header_used(self) -> None:
        """Say once per process that a client still sends X-Operator-Key (never what it sent)."""
        if not self._warned:
            self._warned = True
            log.warning(
                "deprecated header X-Operator-Key used; send the operator key as 'Authorization: Bearer <key>' "
                "(X-Operator-Key is accepted for this release only)"
            )
