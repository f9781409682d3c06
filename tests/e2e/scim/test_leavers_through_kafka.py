"""End to end through Kafka: the directory deactivates a person -> their next sign-in is refused, the
worker no longer lists them as active and refuses their session, downstream sees the event;
reactivated -> they sign in again; deleted -> their personal data is gone from the worker."""

import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
from aiokafka import AIOKafkaConsumer

from kutamo_contracts.envelope import decode_record
from kutamo_contracts.events import UserLifecycleChanged
from kutamo_contracts.topics import USER_LIFECYCLE
from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import eventually, provisioned_user
from tests.e2e.scim.conftest import Scim, create_token, entra_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import create_tenant


async def _lifecycle_events(bootstrap: str, user_id: str, want: int) -> list[UserLifecycleChanged]:
    """What a downstream consumer of kutamo.identity.user-lifecycle.v1 sees for this user."""
    consumer = AIOKafkaConsumer(
        USER_LIFECYCLE.name, bootstrap_servers=bootstrap, group_id=f"downstream-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
    )  # fmt: skip
    await consumer.start()
    seen: list[UserLifecycleChanged] = []
    try:

        async def probe() -> list[UserLifecycleChanged] | None:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.key == user_id.encode():
                        seen.append(decode_record(USER_LIFECYCLE, UserLifecycleChanged, r.headers, r.value))
            return seen if len(seen) >= want else None

        return await eventually(probe, what="lifecycle events on Kafka")
    finally:
        await consumer.stop()


async def _worker(http: httpx.AsyncClient, provisioning: ServiceProcess, path: str, session: str) -> httpx.Response:
    return await http.get(f"{provisioning.url}{path}", headers={"Authorization": f"Bearer {session}"})


async def test_a_leaver_is_out_within_one_provisioning_cycle_and_back_when_reactivated(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    stack: dev_stack.Stack, database_url: str,
) -> None:  # fmt: skip
    tenant = create_tenant(identity, name="Northwind (leavers)")
    token = await create_token(http, identity, tenant.tenant_id)
    scim = Scim(http, token["tenant_url"], token["token"])
    leaver = await microsoft.add_user(tenant.directory_id, name="Lee Ver", mail="lee@northwind.test", title="Analyst")
    stayer = await microsoft.add_user(tenant.directory_id, name="Stay Er", mail="stay@northwind.test", title="Lead")
    signed_in = (await sign_in(http, identity, microsoft, tenant, leaver["oid"])).json()
    user_id, old_session = signed_in["user_id"], signed_in["session_token"]
    colleague = (await sign_in(http, identity, microsoft, tenant, stayer["oid"])).json()["session_token"]
    await provisioned_user(http, provisioning, user_id, old_session, title="Analyst")

    # Entra provisions the person who already signed in: linked by object id, the same Kutamo user.
    created = (await scim.create(entra_user(leaver["oid"], name="Lee Ver", title="Analyst"))).json()
    assert created["id"] == user_id

    off = await scim.patch(user_id, {"op": "Replace", "path": "active", "value": "False"})
    assert off.json()["active"] is False
    refused = await sign_in(http, identity, microsoft, tenant, leaver["oid"])
    assert (refused.status_code, refused.json()["code"]) == (403, "user_deactivated")

    async def session_refused() -> bool | None:
        response = await _worker(http, provisioning, f"/v1/users/{user_id}", old_session)
        return True if response.status_code == 401 and response.json()["code"] == "user_deactivated" else None

    await eventually(session_refused, what="the worker refusing the leaver's session")
    listed = (await _worker(http, provisioning, f"/v1/tenants/{tenant.tenant_id}/users", colleague)).json()
    assert user_id not in [u["user_id"] for u in listed["users"]]
    marked = await _worker(http, provisioning, f"/v1/tenants/{tenant.tenant_id}/users?include_inactive=true", colleague)
    assert {u["user_id"]: u["active"] for u in marked.json()["users"]}[user_id] is False
    events = await _lifecycle_events(stack.kafka.bootstrap_servers, user_id, want=2)
    assert [(e.change, e.active, e.version) for e in events[:2]] == [("created", True, 1), ("deactivated", False, 2)]

    on = await scim.patch(user_id, {"op": "Replace", "value": {"active": "True"}})
    assert on.json()["active"] is True
    back = await sign_in(http, identity, microsoft, tenant, leaver["oid"])
    assert back.status_code == 201, back.text

    async def accepted_again() -> dict[str, Any] | None:
        response = await _worker(http, provisioning, f"/v1/users/{user_id}", back.json()["session_token"])
        return response.json() if response.status_code == 200 and response.json()["active"] else None

    assert (await eventually(accepted_again, what="the worker accepting the returner"))["name"] == "Lee Ver"


async def test_a_deleted_user_loses_name_email_title_and_avatar_and_stays_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator,
    database_url: str,
) -> None:  # fmt: skip
    tenant = create_tenant(identity, name="Northwind (deletes)")
    token = await create_token(http, identity, tenant.tenant_id)
    scim = Scim(http, token["tenant_url"], token["token"])
    person = await microsoft.add_user(tenant.directory_id, name="Del Eted", mail="del@northwind.test", title="Temp")
    signed_in = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()
    user_id = signed_in["user_id"]
    record = await provisioned_user(http, provisioning, user_id, signed_in["session_token"], title="Temp")
    assert record["avatar_url"] is not None
    await scim.create(entra_user(person["oid"], name="Del Eted", title="Temp"))
    assert (await scim.request("DELETE", f"/Users/{user_id}")).status_code == 204
    refused = await sign_in(http, identity, microsoft, tenant, person["oid"])
    assert refused.json()["code"] == "user_deactivated"

    async def erased() -> dict[str, Any] | None:
        conn = await asyncpg.connect(database_url)
        try:
            row = await conn.fetchrow("select * from provisioning.users where user_id = $1", uuid.UUID(user_id))
        finally:
            await conn.close()
        return dict(row) if row and row["deleted_at"] is not None else None

    row = await eventually(erased, what="the worker erasing the deleted user")
    assert (row["name"], row["email"], row["title"], row["avatar_sha256"], row["active"]) == (
        None, None, None, None, False
    )  # fmt: skip
    gone = await _worker(http, provisioning, f"/v1/users/{user_id}", signed_in["session_token"])
    assert gone.status_code == 401
    assert msgspec.json.decode(gone.content)["code"] == "user_deactivated"
