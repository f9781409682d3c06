"""Kutamo session tokens: short-lived ES256 JWTs, verifiable with the keys at /.well-known/jwks.json.

Each process makes its own key pairs and stores only the public halves, so every instance publishes
every live key and no private key is ever written anywhere. Keys rotate on a schedule: key n of a
process signs from `origin + n * rotation` until `origin + (n + 1) * rotation`, where the origin is
the process's first publication. A key is published one whole period before it signs (the current
and the next key are always stored), so a verifier that fetched the key set at any time since the
previous rotation already holds it; and it stays published until its last token has expired, plus
a margin for clock skew.
"""

import base64
import json
import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm

AUDIENCE = "kutamo"
ALGORITHM = "ES256"
# Verifiers allow some clock skew (the worker 120 s by default): a retired key stays this much longer.
RETIREMENT_MARGIN = timedelta(minutes=10)

log = logging.getLogger(__name__)
_json = msgspec.json.Encoder()
_ECDSA = ec.ECDSA(hashes.SHA256())


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


class SigningKey:
    """One key pair and the period it signs in."""

    def __init__(self, signs_from: datetime, signs_until: datetime, retire_after: datetime) -> None:
        self.signs_from = signs_from
        self.signs_until = signs_until
        self.retire_after = retire_after
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.kid = uuid.uuid4().hex
        public: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        self.public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}
        self.published = False
        # The JOSE header is the same for every token this key signs (as PyJWT writes it: sorted keys).
        self._header = _b64(_json.encode({"alg": ALGORITHM, "kid": self.kid, "typ": "JWT"})) + b"."

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims` (RFC 7515, ES256: the raw 64-byte r || s of RFC 7518 3.4). Written here
        rather than by PyJWT's encode, which spent as long on its generic checks as on the signature."""
        signing_input = self._header + _b64(_json.encode(claims))
        r, s = decode_dss_signature(self.private.sign(signing_input, _ECDSA))
        return (signing_input + b"." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))).decode()


class KeyNotPublished(RuntimeError):
    """issue() was called before publish_due() stored the key for that time; a wiring mistake."""


class SessionIssuer:
    def __init__(self, issuer_url: str, ttl_seconds: int, rotation: timedelta = timedelta(hours=24)) -> None:
        if rotation <= timedelta(0):
            raise ValueError("the rotation period must be positive")
        self._issuer = issuer_url
        self._ttl = timedelta(seconds=ttl_seconds)
        self._rotation = rotation
        self._origin: datetime | None = None
        self._keys: dict[int, SigningKey] = {}

    @property
    def keys(self) -> list[SigningKey]:
        """The keys this process holds: the one signing now, the next one, and none older."""
        return [self._keys[n] for n in sorted(self._keys)]

    def _period(self, now: datetime) -> int:
        assert self._origin is not None
        return (now - self._origin) // self._rotation

    def _key(self, period: int) -> SigningKey:
        assert self._origin is not None
        if period not in self._keys:
            signs_from = self._origin + period * self._rotation
            signs_until = signs_from + self._rotation
            self._keys[period] = SigningKey(signs_from, signs_until, signs_until + self._ttl + RETIREMENT_MARGIN)
        return self._keys[period]

    async def publish_due(self, conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> None:
        """Store the key signing now and the next one, if not stored yet; forget keys past their period.

        Cheap when nothing is due (no database call), so it runs before every issue and in the background.
        """
        if self._origin is None:
            self._origin = now
        current = self._period(now)
        for period in (current, current + 1):
            key = self._key(period)
            if not key.published:
                await conn.execute(
                    "insert into session_keys (kid, public_jwk, created_at, retire_after) values ($1, $2, $3, $4)"
                    " on conflict (kid) do nothing",
                    key.kid,
                    json.dumps(key.public_jwk),
                    now,
                    key.retire_after,
                )
                key.published = True
                log.info(
                    "session key published",
                    extra={"kid": key.kid, "signs_from": key.signs_from.isoformat(), "retire_after": key.retire_after},
                )
        for period in [p for p in self._keys if p < current]:
            del self._keys[period]

    def can_sign(self, now: datetime) -> bool:
        """The key signing at `now` is published (start-up done): no sign-in waits on a publication."""
        if self._origin is None:
            return False
        key = self._keys.get(self._period(now))
        return key is not None and key.published

    def issue(self, *, user_id: str, tenant_id: str, now: datetime) -> tuple[str, datetime]:
        if self._origin is None:
            raise KeyNotPublished("no session key has been published yet")
        key = self._keys.get(self._period(now))
        if key is None or not key.published:
            raise KeyNotPublished(f"the session key for {now.isoformat()} has not been published")
        expires = now + self._ttl
        claims = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": user_id,
            "tenant_id": tenant_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": os.urandom(16).hex(),  # 128 random bits, as uuid4().hex gave, without building a UUID
        }
        return key.sign(claims), expires


async def published_keys(conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Every key some process signs with now or will next, and every retired one whose tokens may live."""
    rows = await conn.fetch("select public_jwk from session_keys where retire_after > $1 order by created_at desc", now)
    return [json.loads(r["public_jwk"]) for r in rows]


async def forget_retired(conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> None:
    """Housekeeping: a key retired a day ago verifies nothing any more."""
    await conn.execute("delete from session_keys where retire_after < $1", now - timedelta(days=1))
