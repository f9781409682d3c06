"""Bad input gets a SCIM error and changes nothing; a token reaches only its own tenant; tokens are
stored hashed, listed without secrets, revocable; every request is audited by token id, without
personal data; a tenant whose directory is not pinned yet cannot provision."""

import uuid

import asyncpg
import httpx

from tests.conftest import OPERATOR_KEY
from tests.e2e.scim.conftest import ERROR, Scim, create_token, entra_user
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant, create_tenant

ADMIN = {"Authorization": f"Bearer {OPERATOR_KEY}"}


async def test_malformed_and_unsupported_filters_are_invalid_filter(scim: Scim) -> None:
    for text in ["userName eq", 'userName eq "a" and', 'password eq "x"', "((", 'meta.lastModified gt "soon"']:
        response = await scim.request("GET", "/Users", params={"filter": text})
        assert response.status_code == 400, text
        assert response.json() == {**response.json(), "schemas": [ERROR], "status": "400", "scimType": "invalidFilter"}


async def test_unknown_attributes_and_bad_values_are_refused_with_their_scim_type(scim: Scim) -> None:
    unknown = await scim.create({**entra_user(), "shoeSize": 44})
    assert (unknown.status_code, unknown.json()["scimType"]) == (400, "invalidValue")
    not_an_oid = await scim.create({**entra_user(), "externalId": "adele"})
    assert "objectId" in not_an_oid.json()["detail"]
    user = (await scim.create(entra_user())).json()
    bad_path = await scim.patch(user["id"], {"op": "Replace", "path": "favouriteColour", "value": "blue"})
    assert (bad_path.status_code, bad_path.json()["scimType"]) == (400, "invalidPath")
    bad_active = await scim.patch(user["id"], {"op": "Replace", "path": "active", "value": "maybe"})
    assert (bad_active.status_code, bad_active.json()["scimType"]) == (400, "invalidValue")
    not_json = await scim.http.post(f"{scim.base}/Users", content=b"{nope", headers={
        "Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"})  # fmt: skip
    assert (not_json.status_code, not_json.json()["scimType"]) == (400, "invalidSyntax")
    assert (await scim.request("GET", f"/Users/{user['id']}")).json() == user


async def test_the_same_user_name_or_external_id_twice_is_a_uniqueness_conflict(scim: Scim) -> None:
    body = entra_user()
    assert (await scim.create(body)).status_code == 201
    again = await scim.create(body)
    assert (again.status_code, again.json()["scimType"]) == (409, "uniqueness")
    same_name = await scim.create({**entra_user(), "userName": body["userName"].upper()})
    assert (same_name.status_code, same_name.json()["scimType"]) == (409, "uniqueness")


async def test_an_oversized_body_is_refused(scim: Scim) -> None:
    response = await scim.create({**entra_user(), "displayName": "x" * 70_000})
    assert response.status_code == 413
    assert response.json()["schemas"] == [ERROR]


async def test_no_wrong_or_revoked_token_is_unauthorized(
    http: httpx.AsyncClient, identity: ServiceProcess, scim: Scim, scim_tenant: Tenant
) -> None:
    anonymous = await http.get(f"{scim.base}/Users")
    assert anonymous.status_code == 401
    assert anonymous.json()["schemas"] == [ERROR]
    wrong = await Scim(http, scim.base, "kscim_" + "x" * 43).request("GET", "/Users")
    assert wrong.status_code == 401
    created = await create_token(http, identity, scim_tenant.tenant_id)
    rotated = Scim(http, scim.base, created["token"])
    assert (await rotated.request("GET", "/Users", params={"count": 0})).status_code == 200
    revoked = await http.delete(
        f"{identity.url}/v1/tenants/{scim_tenant.tenant_id}/scim-tokens/{created['id']}", headers=ADMIN
    )
    assert revoked.status_code == 204
    assert (await rotated.request("GET", "/Users")).status_code == 401
    listed = (await http.get(f"{identity.url}/v1/tenants/{scim_tenant.tenant_id}/scim-tokens", headers=ADMIN)).json()
    assert created["token"] not in str(listed)
    assert {t["id"]: t["revoked_at"] is not None for t in listed}[created["id"]]


async def test_a_token_of_tenant_a_never_reaches_tenant_b_users(
    http: httpx.AsyncClient, identity: ServiceProcess, scim: Scim
) -> None:
    other = create_tenant(identity, name="Tailspin (SCIM)")
    theirs = Scim(http, scim.base, (await create_token(http, identity, other.tenant_id))["token"])
    their_user = (await theirs.create(entra_user())).json()
    assert (await scim.request("GET", f"/Users/{their_user['id']}")).status_code == 404
    assert (await scim.patch(their_user["id"], {"op": "Replace", "path": "active", "value": False})).status_code == 404
    assert (await scim.request("DELETE", f"/Users/{their_user['id']}")).status_code == 404
    assert await scim.find(their_user["userName"]) == []
    listed = await scim.request("GET", "/Users", params={"filter": f'id eq "{their_user["id"]}"'})
    assert listed.json()["totalResults"] == 0
    assert (await theirs.request("GET", f"/Users/{their_user['id']}")).json()["active"] is True


async def test_a_tenant_without_a_pinned_directory_cannot_provision_yet(
    http: httpx.AsyncClient, identity: ServiceProcess, scim: Scim
) -> None:
    pending = create_tenant(identity, name="Pending (SCIM)", directory_id=None)
    client = Scim(http, scim.base, (await create_token(http, identity, pending.tenant_id))["token"])
    response = await client.create(entra_user())
    assert response.status_code == 400
    assert "no verified Azure AD directory" in response.json()["detail"]


async def test_every_request_is_audited_by_token_id_without_personal_data(
    scim: Scim, scim_token: dict[str, object], database_url: str
) -> None:
    body = entra_user(name="Audit Person")
    user = (await scim.create(body)).json()
    await scim.find(body["userName"])
    await scim.patch(user["id"], {"op": "Replace", "path": "active", "value": "nope"})
    conn = await asyncpg.connect(database_url)
    try:  # row-level security shows the owner nothing outside an operator's context
        await conn.execute("select set_config('kutamo.operator', 'on', false)")
        rows = await conn.fetch(
            "select * from identity.scim_requests where token_id = $1 order by id", uuid.UUID(str(scim_token["id"]))
        )
    finally:
        await conn.close()
    mine = [dict(r) for r in rows if r["resource_id"] == uuid.UUID(user["id"]) or r["route"] == "Users"]
    assert {"POST", "GET", "PATCH"} <= {r["method"] for r in mine}
    assert any(r["status"] == 400 and r["scim_type"] == "invalidValue" for r in mine)
    assert not any(needle in str(rows) for needle in (body["userName"], "Audit Person", body["externalId"]))
