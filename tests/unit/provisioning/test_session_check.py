"""The worker's check of Kutamo session tokens: the identity service's key, audience and issuer, and the
same clock skew the identity service allows (CLOCK_SKEW_SECONDS, 120 s by default)."""

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from kutamo_provisioning.config import from_env
from kutamo_provisioning.errors import ApiError
from kutamo_provisioning.sessions import SessionVerifier

IDENTITY = "http://identity.internal:8000"
ISSUER = "https://id.kutamo.test"
KEY = ec.generate_private_key(ec.SECP256R1())
KID = "session-key-1"
SKEW = 120


def jwks(_: httpx.Request) -> httpx.Response:
    public = json.loads(ECAlgorithm.to_jwk(KEY.public_key()))
    return httpx.Response(200, json={"keys": [{**public, "kid": KID, "use": "sig", "alg": "ES256"}]})


def session(*, iss: str | None = ISSUER, age: int = 0, ttl: int = 900, **claims: Any) -> str:
    """A session token as the identity service issues it, issued `age` seconds ago."""
    now = int(time.time()) - age
    body = {"iss": iss, "aud": "kutamo", "sub": "user-1", "tenant_id": "tenant-1", "iat": now, "nbf": now,
            "exp": now + ttl, **claims}  # fmt: skip
    return jwt.encode({k: v for k, v in body.items() if v is not None}, KEY, algorithm="ES256", headers={"kid": KID})


async def verify(token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks)) as http:
        return await SessionVerifier(http, IDENTITY, ISSUER, SKEW).verify(f"Bearer {token}")


async def refused(token: str) -> str:
    with pytest.raises(ApiError) as caught:
        await verify(token)
    return caught.value.code


async def test_a_session_of_the_identity_service_is_accepted() -> None:
    assert (await verify(session()))["tenant_id"] == "tenant-1"


@pytest.mark.parametrize("issuer", ["https://evil.example", f"{ISSUER}/", IDENTITY, None])
async def test_a_session_of_another_issuer_or_none_is_refused_even_when_signed_by_a_published_key(
    issuer: str | None,
) -> None:
    assert await refused(session(iss=issuer)) == "session_invalid"


async def test_a_session_expired_within_the_skew_is_accepted_and_beyond_it_refused() -> None:
    await verify(session(age=900 + SKEW - 30))
    assert await refused(session(age=900 + SKEW + 30)) == "session_expired"


async def test_a_session_from_a_clock_ahead_within_the_skew_is_accepted_and_beyond_it_refused() -> None:
    await verify(session(age=-(SKEW - 30)))
    assert await refused(session(age=-(SKEW + 60))) == "session_invalid"


ENV = {
    "DATABASE_URL": "postgresql://u@localhost/db",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "TOKEN_SEALING_KEY": "a" * 43 + "=",
    "IDENTITY_BASE_URL": "http://identity:8000/",
}


def test_the_issuer_is_the_identity_base_url_unless_configured_and_the_skew_that_of_the_identity_service() -> None:
    assert from_env(ENV).session_issuer == "http://identity:8000"
    assert from_env({**ENV, "SESSION_ISSUER": "https://id.kutamo.test/"}).session_issuer == "https://id.kutamo.test"
    assert from_env(ENV).clock_skew_seconds == 120
