"""Sealing of the delegated Graph token between the identity service and the provisioning worker.

AES-256-GCM with a key only the two services hold. The event id is the associated data, so a sealed
token cannot be moved to another event; the token's expiry is sealed with it, so a stale one is refused
before any call to Microsoft. Format: base64url(version byte | 12-byte nonce | ciphertext+tag).
"""

import base64
import os
from datetime import UTC, datetime

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"


class SealedTokenError(ValueError):
    """The sealed token cannot be opened: wrong key, wrong event, tampered, malformed or expired."""


class _Sealed(msgspec.Struct, frozen=True):
    token: str
    expires_at: datetime


def parse_key(text: str) -> bytes:
    """Decode the shared key (base64 of 32 bytes); raise ValueError with a sentence an operator can act on."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("TOKEN_SEALING_KEY must be base64 of 32 random bytes") from exc
    if len(key) != 32:
        raise ValueError(f"TOKEN_SEALING_KEY must decode to 32 bytes, got {len(key)}")
    return key


def seal_token(key: bytes, event_id: str, token: str, expires_at: datetime) -> str:
    nonce = os.urandom(12)
    plain = msgspec.json.encode(_Sealed(token=token, expires_at=expires_at.astimezone(UTC)))
    sealed = AESGCM(key).encrypt(nonce, plain, event_id.encode())
    return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode().rstrip("=")


def open_token(key: bytes, event_id: str, sealed: str, now: datetime) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except ValueError as exc:
        raise SealedTokenError("sealed token is not base64url") from exc
    if len(raw) < 1 + 12 + 16 or raw[:1] != _VERSION:
        raise SealedTokenError("sealed token has an unknown format")
    try:
        plain = AESGCM(key).decrypt(raw[1:13], raw[13:], event_id.encode())
    except InvalidTag as exc:
        raise SealedTokenError("sealed token does not open with this key for this event") from exc
    inner = msgspec.json.decode(plain, type=_Sealed)
    if inner.expires_at <= now:
        raise SealedTokenError("the Graph token expired before the event was processed")
    return inner.token
