"""Entra's initial provisioning cycle through SCIM: users created per second, and end to end to the
worker's record.

A real identity process and a real provisioning worker (one database of the bench's own, a consumer
group of its own) take N users the way Entra's initial cycle sends them: for each, a userName filter
then a create, C requests in flight. Measured: the SCIM creates per second (filter + POST answered),
and the users per second until the worker has recorded every one (lifecycle event through the outbox,
the relay, Kafka and the worker's transaction). The worker first drains what the lifecycle topic
already holds, so only this burst is timed.
"""

import asyncio
import json
import subprocess
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx

from kutamo_dev.ports import free_port
from kutamo_dev.services import service_env
from kutamo_dev.stack import Stack

USERS, CONCURRENCY = 1000, 20


async def _ready(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(300):
        try:
            if (await http.get(f"{url}/health/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


async def _count(db: asyncpg.Connection, tenant_id: str | None = None) -> int:
    if tenant_id is None:
        return int(await db.fetchval("select count(*) from provisioning.users"))
    return int(await db.fetchval("select count(*) from provisioning.users where tenant_id = $1", uuid.UUID(tenant_id)))


async def _drained(db: asyncpg.Connection) -> None:
    """Until the worker's record count stops moving for two seconds (the topic's older events applied)."""
    last, still = -1, 0.0
    while still < 2.0:
        await asyncio.sleep(0.5)
        now = await _count(db)
        still = still + 0.5 if now == last else 0.0
        last = now


def _tenant(env: dict[str, str]) -> dict[str, str]:
    args = ["tenants", "create", "--name", "Bench", "--application-id", str(uuid.uuid4()),
            "--login-code", "bench" + uuid.uuid4().hex[:8], "--directory-id", str(uuid.uuid4())]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "kutamo_identity", *args], env=env, check=True, capture_output=True,
                          timeout=60, text=True)  # fmt: skip
    created: dict[str, str] = json.loads(done.stdout)
    return created


def _body(oid: str) -> dict[str, Any]:
    user_name = f"bench_{oid[:12]}@contoso.test"
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": oid, "userName": user_name,
            "active": True, "displayName": "Bench User", "title": "Engineer",
            "emails": [{"primary": True, "type": "work", "value": user_name}]}  # fmt: skip


async def _burst(stack: Stack) -> dict[str, Any]:
    name = f"kutamo_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(stack.postgres.url)
    await admin.execute(f'create database "{name}"')
    url_db = stack.postgres.url.rsplit("/", 1)[0] + f"/{name}"
    ports = free_port(), free_port()
    identity_env = service_env(stack, "identity", ports[0])
    identity_url = f"http://127.0.0.1:{ports[0]}"
    worker_env = service_env(stack, "provisioning", ports[1], identity_url=identity_url)
    for env in (identity_env, worker_env):
        env.update(DATABASE_URL=url_db, LOG_LEVEL="WARNING", PROVISIONING_CONSUMER_GROUP=f"bench-{name}",
                   KAFKA_CONSUMER_GROUP=f"bench-{name}")  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-m", module], env=env, stdout=subprocess.DEVNULL)
             for module, env in (("kutamo_identity", identity_env), ("kutamo_provisioning", worker_env))]  # fmt: skip
    db = await asyncpg.connect(url_db)
    try:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CONCURRENCY)) as http:
            await _ready(http, identity_url)
            await _ready(http, f"http://127.0.0.1:{ports[1]}")
            created = await asyncio.to_thread(_tenant, identity_env)
            token = (await http.post(f"{identity_url}/v1/tenants/{created['tenant_id']}/scim-tokens", json={},
                                     headers={"Authorization": f"Bearer {stack.operator_key}"})).json()  # fmt: skip
            await _drained(db)
            headers = {"Authorization": f"Bearer {token['token']}"}
            slots, statuses = asyncio.Semaphore(CONCURRENCY), []

            async def one() -> None:
                body = _body(str(uuid.uuid4()))
                async with slots:
                    await http.get(f"{token['tenant_url']}/Users", headers=headers,
                                   params={"filter": f'userName eq "{body["userName"]}"'})  # fmt: skip
                    statuses.append((await http.post(f"{token['tenant_url']}/Users", json=body, headers=headers))
                                    .status_code)  # fmt: skip

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(USERS)))
            answered = time.perf_counter() - started
            for _ in range(3000):
                if await _count(db, created["tenant_id"]) >= USERS:
                    break
                await asyncio.sleep(0.1)
            recorded = time.perf_counter() - started
            in_worker = await _count(db, created["tenant_id"])
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        await db.close()
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
    return {
        "users": USERS, "concurrency": CONCURRENCY, "created": statuses.count(201), "recorded_by_worker": in_worker,
        "scim_seconds": round(answered, 2), "scim_users_per_second": round(USERS / answered, 1),
        "end_to_end_seconds": round(recorded, 2), "end_to_end_users_per_second": round(in_worker / recorded, 1),
    }  # fmt: skip


def run(stack: Stack) -> dict[str, Any]:
    return asyncio.run(_burst(stack))
