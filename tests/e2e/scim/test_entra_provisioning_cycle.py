"""The endpoint driven as Entra's provisioning service drives it, from Microsoft's documented requests:
match by userName filter before creating, create, PATCH with capitalised ops and string booleans,
deactivate, reactivate, delete."""

from tests.e2e.scim.conftest import ENTERPRISE, ERROR, PATCH, SCIM_JSON, USER, Scim, entra_user


async def test_entra_matches_by_user_name_then_creates_the_user(scim: Scim) -> None:
    body = entra_user()
    assert await scim.find(body["userName"]) == []
    created = await scim.create(body)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(SCIM_JSON)
    user = created.json()
    assert created.headers["location"] == user["meta"]["location"]
    assert (user["externalId"], user["userName"], user["active"], user["title"]) == (
        body["externalId"], body["userName"], True, "Engineer"
    )  # fmt: skip
    assert user["emails"] == [{"value": body["userName"], "type": "work", "primary": True}]
    assert [found["id"] for found in await scim.find(body["userName"].upper())] == [user["id"]]
    fetched = await scim.request("GET", f"/Users/{user['id']}")
    assert fetched.json() == user


async def test_entra_patch_replaces_several_attributes_and_flips_active_as_strings(scim: Scim) -> None:
    user = (await scim.create(entra_user())).json()
    patched = await scim.patch(
        user["id"],
        {"op": "Replace", "path": "displayName", "value": "Renamed User"},
        {"op": "Replace", "path": "title", "value": "Lead Engineer"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "renamed@contoso.com"},
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "a4f6b8c0-0000-0000-0000-000000000000"},
        {"op": "Replace", "path": "name.familyName", "value": "User"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["displayName"], patched.json()["title"], patched.json()["emails"][0]["value"]) == (
        "Renamed User", "Lead Engineer", "renamed@contoso.com"
    )  # fmt: skip
    off = await scim.patch(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert off.json()["active"] is False
    on = await scim.patch(user["id"], {"op": "Replace", "value": {"active": "True"}})
    assert on.json()["active"] is True
    assert on.json()["meta"]["version"] == 'W/"4"'


async def test_entra_replaces_a_user_with_put_and_deletes_it(scim: Scim) -> None:
    body = entra_user()
    user = (await scim.create(body)).json()
    replaced = await scim.request("PUT", f"/Users/{user['id']}", {**body, "title": "Director", "active": False})
    assert (replaced.json()["title"], replaced.json()["active"]) == ("Director", False)
    deleted = await scim.request("DELETE", f"/Users/{user['id']}")
    assert deleted.status_code == 204
    gone = await scim.request("GET", f"/Users/{user['id']}")
    assert gone.status_code == 404
    assert gone.json()["schemas"] == [ERROR]
    assert await scim.find(body["userName"]) == []


async def test_a_deleted_user_provisioned_again_is_the_same_kutamo_user(scim: Scim) -> None:
    body = entra_user()
    first = (await scim.create(body)).json()
    await scim.request("DELETE", f"/Users/{first['id']}")
    again = await scim.create(body)
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]


async def test_list_pages_with_start_index_and_count(scim: Scim) -> None:
    for _ in range(3):
        await scim.create(entra_user())
    page = (await scim.request("GET", "/Users", params={"startIndex": 2, "count": 2})).json()
    assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert (page["startIndex"], page["itemsPerPage"]) == (2, 2)
    assert page["totalResults"] >= 3
    counted = (await scim.request("GET", "/Users", params={"count": 0})).json()
    assert counted["Resources"] == []
    assert counted["totalResults"] == page["totalResults"]


async def test_discovery_says_users_only_with_patch_and_filter(scim: Scim) -> None:
    config = (await scim.request("GET", "/ServiceProviderConfig")).json()
    assert config["patch"]["supported"]
    assert config["filter"]["supported"]
    assert not config["bulk"]["supported"]
    types = (await scim.request("GET", "/ResourceTypes")).json()["Resources"]
    assert [t["name"] for t in types] == ["User"]
    schemas = (await scim.request("GET", "/Schemas")).json()["Resources"]
    assert {s["id"] for s in schemas} == {USER, ENTERPRISE}
    groups = await scim.request("GET", "/Groups")
    assert groups.status_code == 501
    assert "Provision Microsoft Entra ID Groups" in groups.json()["detail"]


async def test_patch_schema_is_required(scim: Scim) -> None:
    user = (await scim.create(entra_user())).json()
    wrong = await scim.request("PATCH", f"/Users/{user['id']}", {"schemas": [USER], "Operations": []})
    assert (wrong.status_code, wrong.json()["scimType"]) == (400, "invalidSyntax")
    assert PATCH in wrong.json()["detail"]
