"""Entra's initial cycle: 1,000 users provisioned in a burst (filter first, then create, many in
parallel) without loss: every one answered 201, listed by SCIM, and recorded by the worker."""

import asyncio
import time
import uuid

import asyncpg
import httpx

from tests.e2e.conftest import eventually
from tests.e2e.scim.conftest import Scim, create_token, entra_user
from tests.support.processes import ServiceProcess
from tests.support.tenants import create_tenant

USERS = 1000
PARALLEL = 20


async def test_a_thousand_users_in_a_burst_are_all_provisioned_end_to_end(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, database_url: str
) -> None:
    tenant = create_tenant(identity, name="Burst Ltd")
    token = await create_token(http, identity, tenant.tenant_id)
    scim = Scim(http, token["tenant_url"], token["token"])
    slots = asyncio.Semaphore(PARALLEL)
    statuses: list[int] = []

    async def provision() -> None:
        body = entra_user(str(uuid.uuid4()))
        async with slots:
            assert await scim.find(body["userName"]) == []
            statuses.append((await scim.create(body)).status_code)

    started = time.perf_counter()
    await asyncio.gather(*(provision() for _ in range(USERS)))
    assert statuses == [201] * USERS, f"{time.perf_counter() - started:.1f}s"
    listed = await scim.request("GET", "/Users", params={"count": 0})
    assert listed.json()["totalResults"] == USERS

    async def all_recorded() -> int | None:
        conn = await asyncpg.connect(database_url)
        try:
            count: int = await conn.fetchval(
                "select count(*) from provisioning.users where tenant_id = $1 and active", uuid.UUID(tenant.tenant_id)
            )
        finally:
            await conn.close()
        return count if count == USERS else None

    assert await eventually(all_recorded, within=120, what="the worker recording 1,000 users") == USERS
