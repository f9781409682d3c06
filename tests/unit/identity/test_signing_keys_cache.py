"""Microsoft's signing keys in memory: TTL, rate-limited refresh, last known good, unusable keys."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from kutamo_identity.errors import SignInRefused
from kutamo_identity.signin.keys import SigningKeys

TID = "5f0d4c1e-8f7a-4b7e-9d61-2a3c5e0d4b11"


class Microsoft:
    """Serves discovery and a key set; counts key fetches; can fail on demand."""

    def __init__(self) -> None:
        self.kids = ["k1"]
        self.fetches = 0
        self.failing = False
        self.extra: list[dict[str, Any]] = []

    def jwk(self, kid: str) -> dict[str, Any]:
        public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        return {**json.loads(RSAAlgorithm.to_jwk(public)), "kid": kid, "use": "sig"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.failing:
            return httpx.Response(503)
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                                             "jwks_uri": "https://login.test/keys"})  # fmt: skip
        self.fetches += 1
        return httpx.Response(200, json={"keys": [self.jwk(k) for k in self.kids] + self.extra})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def microsoft() -> Microsoft:
    return Microsoft()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def keys(microsoft: Microsoft, clock: Clock) -> SigningKeys:
    http = httpx.AsyncClient(transport=httpx.MockTransport(microsoft.handle))
    return SigningKeys(http, "https://login.test", clock, ttl=timedelta(hours=6), min_refresh=timedelta(minutes=5))


async def test_keys_are_fetched_once_and_served_from_memory(keys: SigningKeys, microsoft: Microsoft) -> None:
    for _ in range(5):
        key, issuer = await keys.lookup(TID, "k1")
        assert key is not None
    assert issuer == f"https://login.microsoftonline.com/{TID}/v2.0"
    assert microsoft.fetches == 1


async def test_an_unknown_kid_refreshes_at_most_once_per_window(
    keys: SigningKeys, microsoft: Microsoft, clock: Clock
) -> None:
    await keys.lookup(TID, "k1")
    clock.now += timedelta(minutes=6)
    for n in range(20):
        assert (await keys.lookup(TID, f"random-{n}"))[0] is None
    assert microsoft.fetches == 2
    microsoft.kids.append("k2")  # Microsoft rolls a new key
    assert (await keys.lookup(TID, "k2"))[0] is None  # still inside the window
    clock.now += timedelta(minutes=5)
    assert (await keys.lookup(TID, "k2"))[0] is not None
    assert microsoft.fetches == 3


async def test_keys_older_than_the_ttl_are_refreshed_in_the_background(
    keys: SigningKeys, microsoft: Microsoft, clock: Clock
) -> None:
    await keys.lookup(TID, "k1")
    await keys.refresh_all()
    assert microsoft.fetches == 1
    clock.now += timedelta(hours=6)
    await keys.refresh_all()
    assert microsoft.fetches == 2


async def test_last_known_good_keys_stay_when_microsoft_fails(
    keys: SigningKeys, microsoft: Microsoft, clock: Clock
) -> None:
    await keys.lookup(TID, "k1")
    microsoft.failing = True
    clock.now += timedelta(hours=7)
    await keys.refresh_all()
    assert (await keys.lookup(TID, "k1"))[0] is not None
    with pytest.raises(SignInRefused) as caught:
        await keys.lookup("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "k1")
    assert (caught.value.code, caught.value.status) == ("microsoft_unavailable", 503)


async def test_keys_a_client_cannot_use_are_skipped_not_fatal(keys: SigningKeys, microsoft: Microsoft) -> None:
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    microsoft.extra = [
        {**json.loads(ECAlgorithm.to_jwk(ec_public)), "kid": "ec-key", "use": "sig"},
        {**microsoft.jwk("enc-key"), "use": "enc"},
        {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
    ]
    assert (await keys.lookup(TID, "k1"))[0] is not None
    for kid in ("ec-key", "enc-key", "broken"):
        assert (await keys.lookup(TID, kid))[0] is None
