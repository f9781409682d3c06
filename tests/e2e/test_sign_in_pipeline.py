"""A person signs in over HTTP and appears, moments later, as a Kutamo user with profile and avatar,
through the real Kafka broker and PostgreSQL."""

import uuid

import httpx

from tests.e2e.conftest import provisioned_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant, create_tenant


async def test_login_page_shows_the_organisation_and_how_to_start_microsoft_sign_in(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, emulator_url: str
) -> None:
    response = await http.get(f"{identity.url}/v1/login/{tenant.login_code.upper()}")

    assert response.status_code == 200
    page = response.json()
    assert page["organisation_name"] == "Contoso Ltd"
    assert page["user_note"] == "Sign in with your Contoso work account."
    assert page["client_id"] == tenant.application_id
    assert page["authority"] == f"{emulator_url}/{tenant.directory_id}"
    assert "User.Read" in page["scopes"]
    assert len(page["nonce"]) >= 32
    again = (await http.get(f"{identity.url}/v1/login/{tenant.login_code}")).json()
    assert again["nonce"] != page["nonce"]


async def test_sign_in_becomes_a_user_with_name_email_title_and_avatar(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
) -> None:
    person = await microsoft.add_user(
        tenant.directory_id, name="Adele Vance", mail="adele.vance@contoso.com", title="Product Manager"
    )

    response = await sign_in(http, identity, microsoft, tenant, person["oid"])

    assert response.status_code == 201, response.text
    signed_in = response.json()
    assert signed_in["tenant_id"] == tenant.tenant_id
    assert signed_in["token_type"] == "Bearer"
    user = await provisioned_user(
        http, provisioning, signed_in["user_id"], signed_in["session_token"], title="Product Manager"
    )
    assert user["name"] == "Adele Vance"
    assert user["email"] == "adele.vance@contoso.com"
    avatar = await http.get(provisioning.url + user["avatar_url"])
    assert avatar.status_code == 200
    assert avatar.headers["content-type"] == "image/jpeg"
    graph = await microsoft.tokens(tenant.directory_id, person["oid"], tenant.application_id)
    assert avatar.content == await microsoft.photo(graph["access_token"])


async def test_the_same_person_signing_in_again_keeps_their_kutamo_user_id_and_gets_updates(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
) -> None:
    oid = str(uuid.uuid4())
    await microsoft.add_user(tenant.directory_id, oid=oid, name="Lee Gu", mail="lee@contoso.com", title="Engineer")
    first = (await sign_in(http, identity, microsoft, tenant, oid)).json()
    await provisioned_user(http, provisioning, first["user_id"], first["session_token"], title="Engineer")
    # Promoted, and their mailbox renamed: email is not identity, the link holds by (tid, oid).
    await microsoft.add_user(
        tenant.directory_id, oid=oid, name="Lee Gu", mail="lee.gu@contoso.com", title="Lead Engineer"
    )

    second = (await sign_in(http, identity, microsoft, tenant, oid)).json()

    assert second["user_id"] == first["user_id"]
    user = await provisioned_user(http, provisioning, second["user_id"], second["session_token"], title="Lead Engineer")
    assert user["email"] == "lee.gu@contoso.com"


async def test_a_person_without_a_photo_is_provisioned_without_avatar(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
) -> None:
    person = await microsoft.add_user(
        tenant.directory_id, name="Nestor Wilke", mail=None, title="Director", photo=False
    )

    signed_in = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()

    user = await provisioned_user(
        http, provisioning, signed_in["user_id"], signed_in["session_token"], title="Director"
    )
    assert user["avatar_url"] is None
    assert user["name"] == "Nestor Wilke"
    assert user["email"] == person["user_principal_name"]  # mail is null: Graph's userPrincipalName stands in


async def test_users_of_another_tenant_are_not_visible_with_this_session(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
) -> None:
    other = create_tenant(identity, name="Fabrikam")
    stranger = await microsoft.add_user(other.directory_id, name="Sam", mail="sam@fabrikam.com", title="CFO")
    theirs = (await sign_in(http, identity, microsoft, other, stranger["oid"])).json()
    await provisioned_user(http, provisioning, theirs["user_id"], theirs["session_token"], title="CFO")
    person = await microsoft.add_user(tenant.directory_id, name="Ana", mail="ana@contoso.com", title="Analyst")
    ours = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()

    response = await http.get(
        f"{provisioning.url}/v1/users/{theirs['user_id']}",
        headers={"Authorization": f"Bearer {ours['session_token']}"},
    )

    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"
