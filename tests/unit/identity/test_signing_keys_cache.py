"""Microsoft's signing keys in memory: TTL, rate-limited refresh, last known good, unusable keys."""

import contextlib
import json
import uuid
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


class Unreachable:
    """A Microsoft that never answers: every request is a connection error; counts the attempts."""

    def __init__(self) -> None:
        self.requests = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        raise httpx.ConnectError("unreachable", request=request)


def unreachable_keys(clock: Clock, **limits: Any) -> tuple[SigningKeys, Unreachable]:
    microsoft = Unreachable()
    http = httpx.AsyncClient(transport=httpx.MockTransport(microsoft.handle))
    keys = SigningKeys(http, "https://login.test", clock, min_refresh=timedelta(minutes=5), **limits)
    return keys, microsoft


async def test_an_unreachable_directory_costs_one_fetch_per_window_and_backs_off(clock: Clock) -> None:
    keys, microsoft = unreachable_keys(clock)

    for _ in range(50):
        with pytest.raises(SignInRefused) as caught:
            await keys.lookup(TID, "k1")
        assert caught.value.code == "microsoft_unavailable"
    assert microsoft.requests == 1

    clock.now += timedelta(minutes=5)
    for _ in range(10):
        with pytest.raises(SignInRefused):
            await keys.lookup(TID, "k1")
    assert microsoft.requests == 2
    clock.now += timedelta(minutes=5)  # the second failure doubled the wait to 10 minutes
    with pytest.raises(SignInRefused):
        await keys.lookup(TID, "k1")
    assert microsoft.requests == 2
    clock.now += timedelta(minutes=5)
    with pytest.raises(SignInRefused):
        await keys.lookup(TID, "k1")
    assert microsoft.requests == 3


async def test_a_directory_that_failed_first_is_served_once_microsoft_answers(
    keys: SigningKeys, microsoft: Microsoft, clock: Clock
) -> None:
    microsoft.failing = True
    with pytest.raises(SignInRefused):
        await keys.lookup(TID, "k1")
    microsoft.failing = False
    with pytest.raises(SignInRefused):
        await keys.lookup(TID, "k1")  # still inside the window: no fetch
    clock.now += timedelta(minutes=5)
    assert (await keys.lookup(TID, "k1"))[0] is not None


async def test_random_tids_cannot_grow_the_cache_or_its_locks(clock: Clock) -> None:
    keys, microsoft = unreachable_keys(clock, max_directories=100, max_fetches_per_second=10_000)

    for _ in range(1000):
        with pytest.raises(SignInRefused):
            await keys.lookup(str(uuid.uuid4()), "k1")

    assert microsoft.requests == 1000
    assert keys.cached_directories == 100
    assert keys.fetches_in_flight == 0


async def test_the_least_recently_used_directory_leaves_the_cache_first(microsoft: Microsoft, clock: Clock) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(microsoft.handle))
    keys = SigningKeys(http, "https://login.test", clock, max_directories=2)
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    await keys.lookup(first, "k1")
    await keys.lookup(second, "k1")
    await keys.lookup(first, "k1")  # first is used again: second is now the oldest
    await keys.lookup(third, "k1")
    assert microsoft.fetches == 3

    await keys.lookup(first, "k1")
    assert microsoft.fetches == 3
    await keys.lookup(second, "k1")
    assert microsoft.fetches == 4


async def test_key_fetches_are_limited_per_second_across_directories(microsoft: Microsoft, clock: Clock) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(microsoft.handle))
    keys = SigningKeys(http, "https://login.test", clock, max_fetches_per_second=10)
    tids = [str(uuid.uuid4()) for _ in range(50)]

    refused: list[str] = []
    for tid in tids:
        try:
            await keys.lookup(tid, "k1")
        except SignInRefused as refusal:
            refused.append(refusal.code)
    assert (microsoft.fetches, refused) == (10, ["microsoft_unavailable"] * 40)

    clock.now += timedelta(seconds=1)
    for tid in tids[10:]:
        with contextlib.suppress(SignInRefused):
            await keys.lookup(tid, "k1")
    assert microsoft.fetches == 20


async def test_a_directory_refused_by_the_global_limit_is_not_held_back_by_its_own_window(
    microsoft: Microsoft, clock: Clock
) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(microsoft.handle))
    keys = SigningKeys(http, "https://login.test", clock, max_fetches_per_second=1)
    await keys.lookup(TID, "k1")
    other = str(uuid.uuid4())
    with pytest.raises(SignInRefused):
        await keys.lookup(other, "k1")
    clock.now += timedelta(seconds=1)
    assert (await keys.lookup(other, "k1"))[0] is not None
