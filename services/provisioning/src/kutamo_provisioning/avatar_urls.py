"""Avatar URLs a browser can load by itself: signed, expiring, and scoped to the avatar's tenant.

`/v1/avatars/{tenant_id}/{sha256}?expires=<unix seconds>&signature=<base64url HMAC-SHA256>`: the HMAC
covers tenant, hash and expiry, with a key derived from the sealing key (HKDF, its own label), so every
worker signs and checks alike and nothing else can mint one. Expiries are rounded up to a whole TTL,
so one user's URL stays the same (and cacheable) for at least one TTL and at most two.
"""

import base64
import hashlib
import hmac
import uuid
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kutamo_contracts.sealing import SealingKeys


def _derive(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kutamo avatar urls v1").derive(key)


def _mac(key: bytes, tenant_id: uuid.UUID, sha256: str, expires: int) -> str:
    message = f"{tenant_id}/{sha256}/{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class AvatarUrls:
    def __init__(self, keys: SealingKeys, ttl_seconds: int) -> None:
        self._signing = _derive(keys.current)
        # During a sealing key rotation, URLs signed with the previous key still load until they expire.
        self._accepted = [self._signing] + ([_derive(keys.previous)] if keys.previous else [])
        self.ttl_seconds = ttl_seconds

    def url(self, tenant_id: uuid.UUID, sha256: str, now: datetime) -> str:
        ttl = self.ttl_seconds
        expires = (int(now.timestamp()) // ttl + 2) * ttl
        signature = _mac(self._signing, tenant_id, sha256, expires)
        return f"/v1/avatars/{tenant_id}/{sha256}?expires={expires}&signature={signature}"

    def seconds_left(self, tenant_id: uuid.UUID, sha256: str, expires: int, signature: str, now: datetime) -> int:
        """How long a URL stays valid (> 0), or 0 when it is forged, altered or expired."""
        left = expires - int(now.timestamp())
        if left <= 0 or left > 2 * self.ttl_seconds:
            return 0
        offered = signature.encode()
        valid = any(hmac.compare_digest(_mac(k, tenant_id, sha256, expires).encode(), offered) for k in self._accepted)
        return left if valid else 0
