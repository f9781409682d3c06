"""Sealing of the delegated Graph token between the identity service and the provisioning worker.

AES-256-GCM with a key only the two services hold. The associated data binds the sealed token to its
event, tenant, user and Microsoft object id, so it cannot be moved to another event or person; the
token's expiry is sealed with it, so a stale one is refused before any call to Microsoft.

Format 2: base64url(0x02 | key id (8 bytes) | 12-byte nonce | ciphertext+tag). The key id is the first
8 bytes of SHA-256 over the key, so the opener picks the right key during a rotation (TOKEN_SEALING_KEY
and TOKEN_SEALING_KEY_PREVIOUS) without trying each, and a key id reveals nothing usable about the key.
Format 1 (no key id, the event id alone as associated data) is no longer opened: such a token is
"unusable" and its user is provisioned from the id_token's claims (docs/security.md).
"""

import base64
import hashlib
import os
from datetime import UTC, datetime

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x02"
_KID_BYTES = 8
_NONCE_BYTES = 12
_TAG_BYTES = 16


class SealedTokenError(ValueError):
    """The sealed token cannot be opened: wrong key, wrong binding, tampered, malformed or expired."""


class Binding(msgspec.Struct, frozen=True, array_like=True):
    """Who and what a sealed token belongs to; all of it is authenticated, none of it is encrypted."""

    event_id: str
    tenant_id: str
    user_id: str
    azure_oid: str


class SealingKeys(msgspec.Struct, frozen=True):
    """The key that seals, and the previous one, still accepted for opening during a rotation."""

    current: bytes
    previous: bytes | None = None

    def opener(self, kid: bytes) -> bytes | None:
        for key in (self.current, self.previous):
            if key is not None and key_id(key) == kid:
                return key
        return None


class _Sealed(msgspec.Struct, frozen=True):
    token: str
    expires_at: datetime


_encode = msgspec.json.Encoder().encode


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KID_BYTES]


def parse_key(text: str, name: str = "TOKEN_SEALING_KEY") -> bytes:
    """Decode a shared key (base64 of 32 bytes); raise ValueError with a sentence an operator can act on."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64 of 32 random bytes") from exc
    if len(key) != 32:
        raise ValueError(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


def parse_keys(current: str, previous: str | None) -> SealingKeys:
    """TOKEN_SEALING_KEY and, during a rotation, TOKEN_SEALING_KEY_PREVIOUS (empty: none)."""
    old = parse_key(previous, "TOKEN_SEALING_KEY_PREVIOUS") if previous and previous.strip() else None
    return SealingKeys(current=parse_key(current), previous=old)


def seal_token(keys: SealingKeys, binding: Binding, token: str, expires_at: datetime) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    plain = _encode(_Sealed(token=token, expires_at=expires_at.astimezone(UTC)))
    kid = key_id(keys.current)
    sealed = AESGCM(keys.current).encrypt(nonce, plain, _VERSION + kid + _encode(binding))
    return base64.urlsafe_b64encode(_VERSION + kid + nonce + sealed).decode().rstrip("=")


def open_token(keys: SealingKeys, binding: Binding, sealed: str, now: datetime) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except ValueError as exc:
        raise SealedTokenError("sealed token is not base64url") from exc
    head = 1 + _KID_BYTES
    if len(raw) < head + _NONCE_BYTES + _TAG_BYTES or raw[:1] != _VERSION:
        raise SealedTokenError("sealed token has an unknown format (sealed before the key id was added?)")
    kid = raw[1:head]
    key = keys.opener(kid)
    if key is None:
        raise SealedTokenError("sealed token names a key this service does not hold")
    try:
        plain = AESGCM(key).decrypt(raw[head : head + _NONCE_BYTES], raw[head + _NONCE_BYTES :],
                                    raw[:head] + _encode(binding))  # fmt: skip
    except InvalidTag as exc:
        raise SealedTokenError("sealed token does not open for this event, tenant, user and object id") from exc
    inner = msgspec.json.decode(plain, type=_Sealed)
    if inner.expires_at <= now:
        raise SealedTokenError("the Graph token expired before the event was processed")
    return inner.token
