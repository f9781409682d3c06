"""Data protection (issue 13): avatars behind signed, expiring, tenant-scoped URLs and deleted once nobody
uses them; erasure of a user and of a tenant in both services, announced on Kafka; the services' own
database roles and row-level security on the worker's tables."""

import asyncio
import re
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kutamo_contracts.envelope import decode_record
from kutamo_contracts.events import UserErased
from kutamo_contracts.topics import USER_ERASED
from kutamo_dev import stack as dev_stack
from tests.conftest import OPERATOR_KEY
from tests.e2e.conftest import eventually, provisioned_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant, create_tenant

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
SIGNED = re.compile(
    r"^/v1/avatars/(?P<tenant>[0-9a-f-]{36})/(?P<sha>[0-9a-f]{64})\?expires=(?P<exp>\d+)&signature=\S+$"
)


async def person_in(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    tenant: Tenant, *, title: str = "Engineer", oid: str | None = None, photo: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """A person of the tenant's directory signed in and provisioned: the sign-in answer plus `record`."""
    person = await microsoft.add_user(tenant.directory_id, name="Lidia Holloway", mail="lidia@contoso.com",
                                      title=title, oid=oid, photo=photo)  # fmt: skip
    response = await sign_in(http, identity, microsoft, tenant, person["oid"])
    assert response.status_code == 201, response.text
    signed_in: dict[str, Any] = response.json()
    record = await provisioned_user(http, provisioning, signed_in["user_id"], signed_in["session_token"], title=title)
    return {**signed_in, "oid": person["oid"], "record": record}


async def test_an_avatar_url_is_signed_expiring_scoped_to_its_tenant_and_cached_privately(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
) -> None:  # fmt: skip
    tenant, other = create_tenant(identity, name="Fabrikam"), create_tenant(identity, name="Litware")
    person = await person_in(http, identity, provisioning, microsoft, tenant)
    url = person["record"]["avatar_url"]
    signed = SIGNED.match(url)
    assert signed, url
    assert signed["tenant"] == tenant.tenant_id

    image = await http.get(provisioning.url + url)  # no session: the browser's <img> sends none
    forged = await http.get(provisioning.url + url[:-4] + "AAAA")
    moved = await http.get(provisioning.url + url.replace(tenant.tenant_id, other.tenant_id))
    later = await http.get(
        provisioning.url + url.replace(f"expires={signed['exp']}", f"expires={int(signed['exp']) + 60}")
    )
    bare = await http.get(f"{provisioning.url}/v1/avatars/{tenant.tenant_id}/{signed['sha']}")
    old_route = await http.get(f"{provisioning.url}/v1/avatars/{signed['sha']}")

    assert image.status_code == 200
    assert image.content.startswith(b"\xff\xd8\xff")
    cache = image.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert "immutable" not in cache
    assert 0 < int(cache.rpartition("=")[2]) <= 3600
    for refused in (forged, moved, later, bare):
        assert (refused.status_code, refused.json()["code"]) == (403, "avatar_url_invalid")
    assert old_route.status_code == 404


async def test_the_same_picture_in_two_tenants_is_two_avatars_and_an_unused_one_is_deleted(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    db: asyncpg.Connection,
) -> None:  # fmt: skip
    first, second = create_tenant(identity, name="Adatum"), create_tenant(identity, name="Coho")
    one = await person_in(http, identity, provisioning, microsoft, first)
    await person_in(http, identity, provisioning, microsoft, second)
    sha = SIGNED.match(one["record"]["avatar_url"])["sha"]  # type: ignore[index]
    holders = {str(r[0]) for r in await db.fetch("select tenant_id from provisioning.avatars where sha256 = $1", sha)}
    assert {first.tenant_id, second.tenant_id} <= holders, "no cross-tenant deduplication"

    # The person removes their photo: at the next sign-in the worker drops the avatar nobody uses any more.
    await person_in(http, identity, provisioning, microsoft, first, title="Lead Engineer", oid=one["oid"], photo=False)

    async def gone() -> bool | None:
        left = await db.fetchval(
            "select count(*) from provisioning.avatars where tenant_id = $1 and sha256 = $2",
            uuid.UUID(first.tenant_id),
            sha,
        )
        return True if left == 0 else None

    await eventually(gone, what="the unused avatar's deletion")
    kept = await db.fetchval(
        "select count(*) from provisioning.avatars where tenant_id = $1 and sha256 = $2",
        uuid.UUID(second.tenant_id),
        sha,
    )
    assert kept == 1, "the other tenant's avatar is theirs alone and stays"


async def erased_events(bootstrap: str, user_ids: set[str]) -> dict[str, UserErased]:
    consumer = AIOKafkaConsumer(USER_ERASED.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)  # fmt: skip
    await consumer.start()
    found: dict[str, UserErased] = {}
    try:
        async with asyncio.timeout(30):
            while set(found) != user_ids:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        event = decode_record(USER_ERASED, UserErased, r.headers, r.value)
                        if event.user_id in user_ids:
                            found[event.user_id] = event
    finally:
        await consumer.stop()
    return found


async def test_an_operator_erases_a_user_in_both_services_and_downstream_hears_of_it(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    db: asyncpg.Connection, stack: dev_stack.Stack,
) -> None:  # fmt: skip
    tenant = create_tenant(identity, name="Proseware")
    person = await person_in(http, identity, provisioning, microsoft, tenant)
    neighbour = await person_in(http, identity, provisioning, microsoft, tenant)
    user_id, uid = person["user_id"], uuid.UUID(person["user_id"])
    published = await eventually(lambda: db.fetchrow(
        "select topic, key, value, headers from identity.outbox_published where event_id = $1",
        uuid.UUID(person["event_id"])), what="the sign-in's publication")  # fmt: skip

    refused = await http.delete(f"{identity.url}/v1/tenants/{tenant.tenant_id}/users/{user_id}")
    erased = await http.delete(f"{identity.url}/v1/tenants/{tenant.tenant_id}/users/{user_id}", headers=OPERATOR)
    again = await http.delete(f"{identity.url}/v1/tenants/{tenant.tenant_id}/users/{user_id}", headers=OPERATOR)

    assert refused.status_code == 401
    assert erased.status_code == 200, erased.text
    assert erased.json()["user_ids"] == [user_id]
    assert (again.status_code, again.json()["code"]) == (404, "user_not_found")
    for table in ("identities", "sign_ins"):
        assert await db.fetchval(f"select count(*) from identity.{table} where user_id = $1", uid) == 0
    for table in ("outbox", "outbox_published"):
        left = await db.fetchval(f"select count(*) from identity.{table} where key = $1 and topic <> $2",
                                 user_id.encode(), USER_ERASED.name)  # fmt: skip
        assert left == 0, table
    event = (await erased_events(stack.kafka.bootstrap_servers, {user_id}))[user_id]
    assert (event.tenant_id, event.scope) == (tenant.tenant_id, "user")

    async def worker_erased() -> bool | None:
        return True if await db.fetchval("select 1 from provisioning.erased_users where user_id = $1", uid) else None

    await eventually(worker_erased, what="the worker's erasure")
    assert await db.fetchval("select count(*) from provisioning.users where user_id = $1", uid) == 0
    assert await db.fetchval("select count(*) from provisioning.processed_events where user_id = $1", uid) == 0
    colleague = {"Authorization": f"Bearer {neighbour['session_token']}"}
    record = await http.get(f"{provisioning.url}/v1/users/{user_id}", headers=colleague)
    assert record.status_code == 404
    still = await http.get(f"{provisioning.url}{neighbour['record']['avatar_url']}")
    assert still.status_code == 200, "a picture another user of the tenant still has stays"

    # The erased user's old sign-in, replayed (a dead letter, a redelivery), never brings them back.
    headers = [(n, v.encode()) for n, v in msgspec.json.decode(published["headers"])]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(published["topic"], published["value"], key=published["key"], headers=headers)
    finally:
        await producer.stop()

    async def skipped() -> bool | None:
        outcome = await db.fetchval("select outcome from provisioning.processed_events where event_id = $1",
                                    uuid.UUID(person["event_id"]))  # fmt: skip
        return True if outcome == "erased" else None

    await eventually(skipped, what="the replayed sign-in's outcome")
    assert await db.fetchval("select count(*) from provisioning.users where user_id = $1", uid) == 0


async def test_an_operator_erases_a_whole_tenant_with_the_cli(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    db: asyncpg.Connection, stack: dev_stack.Stack,
) -> None:  # fmt: skip
    tenant = create_tenant(identity, name="Wingtip")
    people = [await person_in(http, identity, provisioning, microsoft, tenant) for _ in range(2)]
    tid = uuid.UUID(tenant.tenant_id)

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kutamo_identity", "tenants", "erase", "--tenant-id", tenant.tenant_id, "--yes"],
        env=identity.env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert sorted(msgspec.json.decode(done.stdout)["user_ids"]) == sorted(p["user_id"] for p in people)
    for table in ("identities", "sign_ins", "sign_in_refusals", "azure_ad_connections", "api_keys", "audit_log"):
        assert await db.fetchval(f"select count(*) from identity.{table} where tenant_id = $1", tid) == 0
    assert await db.fetchval("select count(*) from identity.tenants where id = $1", tid) == 0
    page = await http.get(f"{identity.url}/v1/login/{tenant.login_code}")
    assert page.status_code == 404
    events = await erased_events(stack.kafka.bootstrap_servers, {p["user_id"] for p in people})
    assert {e.scope for e in events.values()} == {"tenant"}

    async def worker_erased() -> bool | None:
        left = await db.fetchval("select count(*) from provisioning.users where tenant_id = $1", tid)
        avatars = await db.fetchval("select count(*) from provisioning.avatars where tenant_id = $1", tid)
        return True if left == 0 and avatars == 0 else None

    await eventually(worker_erased, what="the worker's erasure of the tenant")


async def test_the_services_log_in_as_roles_that_are_neither_superuser_nor_bypassrls(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, db: asyncpg.Connection,
) -> None:  # fmt: skip
    assert (await http.get(f"{provisioning.url}/health/ready")).status_code == 200
    rows = await db.fetch(
        "select a.application_name, a.usename, r.rolsuper, r.rolbypassrls from pg_stat_activity a"
        " join pg_roles r on r.rolname = a.usename"
        " where a.datname = current_database() and a.application_name like 'kutamo-%'"
    )
    by_app: dict[str, set[tuple[str, bool, bool]]] = {}
    for r in rows:
        by_app.setdefault(r["application_name"], set()).add((r["usename"], r["rolsuper"], r["rolbypassrls"]))
    assert by_app.get("kutamo-identity") == {("kutamo_identity", False, False)}, by_app
    assert by_app.get("kutamo-provisioning") == {("kutamo_provisioning", False, False)}, by_app


async def test_the_workers_tables_show_nothing_outside_a_tenant_context(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    database_url: str,
) -> None:  # fmt: skip
    ours, theirs = create_tenant(identity, name="Alpine"), create_tenant(identity, name="Blue Yonder")
    await person_in(http, identity, provisioning, microsoft, ours)
    await person_in(http, identity, provisioning, microsoft, theirs)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "provisioning"})
    try:
        everyone = await conn.fetchval("select count(*) from users")
        await conn.execute("set role kutamo_provisioning_app")
        async with conn.transaction():
            outside = [await conn.fetchval(f"select count(*) from {t}")
                       for t in ("users", "avatars", "processed_events", "erased_users")]  # fmt: skip
        async with conn.transaction():
            await conn.execute("select set_config('kutamo.tenant_id', $1, true)", ours.tenant_id)
            seen = {str(r[0]) for r in await conn.fetch("select distinct tenant_id from users")}
            avatars = {str(r[0]) for r in await conn.fetch("select distinct tenant_id from avatars")}
    finally:
        await conn.close()
    assert everyone >= 2
    assert outside == [0, 0, 0, 0]
    assert seen == {ours.tenant_id}
    assert avatars == {ours.tenant_id}
