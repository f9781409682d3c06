"""Kutamo session tokens: short-lived ES256 JWTs, verifiable with the keys at /.well-known/jwks.json.

Each process makes its own key pair at start and stores only the public half, so every instance
publishes every live key and no private key is ever written anywhere.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

AUDIENCE = "kutamo"
ALGORITHM = "ES256"


class SessionIssuer:
    def __init__(self, issuer_url: str, ttl_seconds: int) -> None:
        self._issuer = issuer_url
        self._ttl = timedelta(seconds=ttl_seconds)
        self._private = ec.generate_private_key(ec.SECP256R1())
        self.kid = uuid.uuid4().hex
        public: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self._private.public_key()))
        self.public_jwk = {**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    async def publish(self, conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> None:
        """Store the public key until every token it can sign has expired, plus a day of slack."""
        await conn.execute(
            "insert into session_keys (kid, public_jwk, created_at, retire_after) values ($1, $2, $3, $4)"
            " on conflict (kid) do nothing",
            self.kid,
            json.dumps(self.public_jwk),
            now,
            now + self._ttl + timedelta(days=1),
        )

    def issue(self, *, user_id: str, tenant_id: str, now: datetime) -> tuple[str, datetime]:
        expires = now + self._ttl
        claims = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": user_id,
            "tenant_id": tenant_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._private, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, expires


async def published_keys(conn: asyncpg.Pool | asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch("select public_jwk from session_keys where retire_after > $1 order by created_at desc", now)
    return [json.loads(r["public_jwk"]) for r in rows]
