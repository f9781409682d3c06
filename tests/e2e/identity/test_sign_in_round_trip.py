"""The sign-in's one round trip and the connection cache keep every promise of the longer path: an admin's
change is seen within a second, and a person erased since their last sign-in comes back as a new user."""

import time

import asyncpg
import httpx

from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import create_tenant


async def test_a_disabled_connection_stops_admitting_sign_ins_within_a_second(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, db: asyncpg.Connection
) -> None:
    tenant = create_tenant(identity, name="Fabrikam")
    person = (await microsoft.add_user(tenant.directory_id, name="Ada", mail=None, title=None))["oid"]
    assert (await sign_in(http, identity, microsoft, tenant, person)).status_code == 201  # the connection is cached
    page = await http.get(f"{identity.url}/v1/login/{tenant.login_code}")
    tokens = await microsoft.tokens(tenant.directory_id, person, tenant.application_id, nonce=page.json()["nonce"])

    await db.execute(
        "update identity.azure_ad_connections set status = 'disabled' where tenant_id = $1::uuid", tenant.tenant_id
    )
    disabled_at = time.monotonic()
    while (await http.get(f"{identity.url}/v1/login/{tenant.login_code}")).status_code == 200:
        assert time.monotonic() - disabled_at < 1, "the login page still offered the disabled connection after 1 s"
    refused = await http.post(
        f"{identity.url}/v1/sign-ins",
        json={"login_code": tenant.login_code, "id_token": tokens["id_token"], "nonce": page.json()["nonce"]},
    )

    assert refused.status_code in (401, 403, 404), refused.text
    assert refused.json()["code"] in ("connection_disabled", "unknown_login_code")


async def test_a_person_erased_since_their_last_sign_in_comes_back_as_a_new_user(
    http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, db: asyncpg.Connection
) -> None:
    tenant = create_tenant(identity, name="Northwind")
    person = (await microsoft.add_user(tenant.directory_id, name="Bo", mail=None, title=None))["oid"]
    first = await sign_in(http, identity, microsoft, tenant, person)
    again = await sign_in(http, identity, microsoft, tenant, person)
    await db.execute("delete from identity.identities where user_id = $1::uuid", first.json()["user_id"])

    after_erasure = await sign_in(http, identity, microsoft, tenant, person)

    assert first.json()["user_id"] == again.json()["user_id"]
    assert after_erasure.status_code == 201, after_erasure.text
    assert after_erasure.json()["user_id"] != first.json()["user_id"]
    linked = await db.fetchval(
        "select user_id::text from identity.identities where tenant_id = $1::uuid and azure_oid = $2::uuid",
        tenant.tenant_id,
        person,
    )
    assert linked == after_erasure.json()["user_id"]
