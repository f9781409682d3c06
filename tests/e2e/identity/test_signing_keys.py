"""Microsoft's signing keys: rotation without restart, unknown-kid floods, and Microsoft outages.

The identity service under test refreshes a directory's keys at most every 3 s
(SIGNING_KEYS_MIN_REFRESH_SECONDS); production uses 300 s.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.e2e.identity import corpus as c
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant, create_tenant

pytestmark = pytest.mark.rotates_keys
MIN_REFRESH = 3.2


@pytest.fixture
async def keys_settled() -> AsyncIterator[None]:
    """Leave a refresh window behind so the next test's unknown kid can be fetched."""
    yield
    await asyncio.sleep(MIN_REFRESH)


async def hits(http: httpx.AsyncClient, microsoft: Emulator, tid: str) -> int:
    counts = (await http.get(f"{microsoft.url}/_emulator/discovery-hits")).json().get(tid, {})
    return int(counts.get("keys", 0))


async def outage(http: httpx.AsyncClient, microsoft: Emulator, *, down: bool) -> None:
    (await http.post(f"{microsoft.url}/_emulator/outage", json={"login": down})).raise_for_status()


async def sign_in_status(a: c.Attempt) -> tuple[int, str | None]:
    nonce = await a.nonce()
    response = await a.post((await a.tokens(nonce))["id_token"], nonce)
    return response.status_code, (response.json()["code"] if response.status_code >= 400 else None)


async def test_a_flood_of_unknown_kids_costs_microsoft_at_most_one_key_fetch(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, keys_settled: None
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    assert await sign_in_status(a) == (201, None)  # keys cached
    nonce = await a.nonce()
    genuine = (await a.tokens(nonce))["id_token"]
    flood = [c.resign(genuine, header={"kid": uuid.uuid4().hex}) for _ in range(60)]
    before = await hits(http, microsoft, tenant.directory_id)

    answers = [await a.post(token, nonce) for token in flood]

    assert {(r.status_code, r.json()["code"]) for r in answers} == {(401, "signing_key_not_found")}
    assert await hits(http, microsoft, tenant.directory_id) - before <= 1


async def test_microsoft_rotating_its_keys_needs_no_restart(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, keys_settled: None
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    assert await sign_in_status(a) == (201, None)
    nonce = await a.nonce()
    old_token = (await a.tokens(nonce))["id_token"]
    rotated = await http.post(f"{microsoft.url}/_emulator/keys/rotate", json={"drop_old": True})
    await asyncio.sleep(MIN_REFRESH)

    assert await sign_in_status(a) == (201, None)  # a new kid: fetched at once
    assert c.parts(old_token)[0]["kid"] not in rotated.json()["published_kids"]
    response = await a.post(old_token, nonce)
    assert (response.status_code, response.json()["code"]) == (401, "signing_key_not_found")


async def test_during_a_microsoft_outage_cached_keys_keep_sign_ins_working(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant, keys_settled: None
) -> None:
    a = c.Attempt(http, identity, microsoft, tenant)
    assert await sign_in_status(a) == (201, None)
    newcomer = create_tenant(identity, name="Adventure Works")
    await outage(http, microsoft, down=True)
    try:
        await asyncio.sleep(MIN_REFRESH)
        cached = await sign_in_status(a)
        nonce = await a.nonce()
        unknown_kid = c.resign((await a.tokens(nonce))["id_token"], header={"kid": "rolled-during-outage"})
        refused = await a.post(unknown_kid, nonce)
        never_seen = await sign_in_status(c.Attempt(http, identity, microsoft, newcomer))
    finally:
        await outage(http, microsoft, down=False)

    assert cached == (201, None)
    assert (refused.status_code, refused.json()["code"]) == (401, "signing_key_not_found")
    assert never_seen == (503, "microsoft_unavailable")
    await asyncio.sleep(MIN_REFRESH)
    assert await sign_in_status(c.Attempt(http, identity, microsoft, newcomer)) == (201, None)
