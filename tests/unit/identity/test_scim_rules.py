"""SCIM's pure rules: filters to SQL, Entra's PATCH habits, what a User body may carry."""

import uuid

import pytest

from kutamo_identity.scim import filters, patch, resources
from kutamo_identity.scim.errors import ScimError
from kutamo_identity.scim.resources import UserState
from kutamo_identity.scim.service import change_of

OID = str(uuid.uuid4())


def _user(**fields: object) -> UserState:
    return UserState(external_id=OID, user_name="adele@contoso.com", display_name="Adele Vance", **fields)  # type: ignore[arg-type]


def _patch(*operations: dict[str, object]) -> dict[str, object]:
    return {"schemas": [patch.PATCH_SCHEMA], "Operations": list(operations)}


def test_entra_user_name_filter_is_case_insensitive_and_bound_as_a_parameter() -> None:
    sql, params = filters.to_sql('userName eq "Adele@Contoso.com"', 2)
    assert sql == "(lower(user_name) = $2)"
    assert params == ["adele@contoso.com"]


def test_external_id_and_id_filters_combine_with_and() -> None:
    sql, params = filters.to_sql(f'externalId eq "{OID}" and id eq "x"', 2)
    assert sql == "((external_id = $2) and (user_id::text = $3))"
    assert params == [OID, "x"]


def test_like_operators_escape_wildcards() -> None:
    _, params = filters.to_sql('userName sw "a_b%"', 2)
    assert params == ["a\\_b\\%%"]


@pytest.mark.parametrize(
    "text",
    ['userName eq', "bogus", 'password eq "x"', 'userName zz "x"', "active eq \"maybe\"", 'meta.lastModified gt "x"',
     'userName eq "' + "a" * 1000 + '"'],
)  # fmt: skip
def test_malformed_or_unsupported_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(ScimError) as caught:
        filters.to_sql(text, 2)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidFilter")


def test_entra_capitalised_replace_with_string_false_deactivates() -> None:
    after = patch.apply(_user(), _patch({"op": "Replace", "path": "active", "value": "False"}))
    assert after.active is False
    assert change_of(_user(), after) == "deactivated"


def test_entra_patch_without_path_sets_the_attributes_of_its_value() -> None:
    value = {"displayName": "A. Vance", "title": "CEO", "active": "True", "name.givenName": "Adele"}
    after = patch.apply(_user(), _patch({"op": "Replace", "value": value}))
    assert (after.display_name, after.title, after.active, after.given_name) == ("A. Vance", "CEO", True, "Adele")


def test_entra_work_email_path_and_enterprise_manager_are_understood() -> None:
    manager = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    after = patch.apply(
        _user(),
        _patch(
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "adele@contoso.com"},
            {"op": "Replace", "path": manager, "value": "e9e30dba-f08f-4109-8486-d5c6a331660a"},
            {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
        ),
    )
    assert after.email == "adele@contoso.com"


def test_unknown_patch_path_is_invalid_path() -> None:
    with pytest.raises(ScimError) as caught:
        patch.apply(_user(), _patch({"op": "Replace", "path": "favouriteColour", "value": "blue"}))
    assert caught.value.scim_type == "invalidPath"


def test_external_id_cannot_be_changed_by_patch() -> None:
    with pytest.raises(ScimError) as caught:
        patch.apply(_user(), _patch({"op": "Replace", "path": "externalId", "value": str(uuid.uuid4())}))
    assert caught.value.scim_type == "mutability"


def test_user_body_needs_an_object_id_as_external_id() -> None:
    body = {"schemas": [resources.USER_SCHEMA], "userName": "a@b.c", "externalId": "adele"}
    with pytest.raises(ScimError) as caught:
        resources.from_document(body)
    assert caught.value.scim_type == "invalidValue"
    assert "objectId" in caught.value.detail


def test_user_body_with_an_attribute_outside_the_schemas_is_refused() -> None:
    body = {"schemas": [resources.USER_SCHEMA], "userName": "a@b.c", "externalId": OID, "shoeSize": 42}
    with pytest.raises(ScimError) as caught:
        resources.from_document(body)
    assert caught.value.scim_type == "invalidValue"


def test_entra_create_body_keeps_only_the_promised_attributes() -> None:
    body = {
        "schemas": [resources.USER_SCHEMA, resources.ENTERPRISE_SCHEMA], "externalId": OID,
        "userName": "Test_User_ab6490ee@contoso.com", "active": "True", "displayName": "Test User",
        "emails": [{"primary": True, "type": "work", "value": "Test_User@contoso.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "title": "Engineer", "phoneNumbers": [{"type": "work", "value": "1"}],
        resources.ENTERPRISE_SCHEMA: {"department": "R&D", "manager": {"value": "x"}},
    }  # fmt: skip
    state = resources.from_document(body)
    assert (state.active, state.email, state.title, state.name) == (True, "Test_User@contoso.com", "Engineer",
                                                                     "Test User")  # fmt: skip


def test_nothing_kept_changed_is_no_change() -> None:
    assert change_of(_user(), _user()) is None
    assert change_of(_user(active=False), _user()) == "reactivated"
    assert change_of(_user(), _user(title="CEO")) == "updated"
