"""Session keys rotate while sessions keep working at the worker.

A second identity process is played by a SessionIssuer with a controlled clock, publishing into the
same database the identity service under test serves /.well-known/jwks.json from; the real worker
verifies its tokens with that key set. Its rotation is one hour and its clock is set so that the
rotation falls a few seconds from now.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jwt
import pytest

from kutamo_identity import db as identity_db
from kutamo_identity.sessions.issuer import RETIREMENT_MARGIN, SessionIssuer, published_keys
from tests.e2e.conftest import eventually
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant

ROTATION = timedelta(hours=1)
TTL = 900


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await identity_db.create_pool(database_url, max_size=2)
    yield pool
    await pool.close()


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def worker_status(http: httpx.AsyncClient, provisioning: ServiceProcess, tenant: Tenant, token: str) -> int:
    response = await http.get(
        f"{provisioning.url}/v1/tenants/{tenant.tenant_id}/users?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


async def test_a_session_signed_after_a_rotation_verifies_at_the_worker_as_do_the_retired_keys_sessions(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    rotation_at = now + timedelta(seconds=5)
    other_process = SessionIssuer(identity.url, TTL, rotation=ROTATION)  # identity.url is the issuer under test
    await other_process.publish_due(pool, rotation_at - ROTATION)  # started an hour ago
    before, before_expires = other_process.issue(user_id=str(uuid.uuid4()), tenant_id=tenant.tenant_id, now=now)

    # A new process's first key reaches a worker within the worker's own refresh interval (30 s).
    async def verified() -> bool | None:
        return True if await worker_status(http, provisioning, tenant, before) == 200 else None

    await eventually(verified, within=40, what="the worker accepting the other process's first key")

    after_rotation = rotation_at + timedelta(seconds=1)
    await other_process.publish_due(pool, after_rotation)
    after, _ = other_process.issue(user_id=str(uuid.uuid4()), tenant_id=tenant.tenant_id, now=after_rotation)

    # The new key was published with the old one, an hour ahead: the worker holds it already.
    assert kid_of(after) != kid_of(before)
    assert await worker_status(http, provisioning, tenant, after) == 200
    assert await worker_status(http, provisioning, tenant, before) == 200
    served = {key["kid"] for key in (await http.get(f"{identity.url}/.well-known/jwks.json")).json()["keys"]}
    assert {kid_of(before), kid_of(after)} <= served

    # The retired key is published until its last token has expired (plus a margin), then no longer.
    last_token_expires = rotation_at + timedelta(seconds=TTL)
    assert before_expires <= last_token_expires
    still = {key["kid"] for key in await published_keys(pool, last_token_expires)}
    gone = {key["kid"] for key in await published_keys(pool, last_token_expires + RETIREMENT_MARGIN)}
    assert kid_of(before) in still
    assert kid_of(before) not in gone
    assert kid_of(after) in gone
