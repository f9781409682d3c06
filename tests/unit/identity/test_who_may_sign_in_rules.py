"""Pure rules of who may sign in: guests, email provenance, and which directory a change pins or proposes."""

import uuid
from typing import Any

import pytest

from kutamo_identity.signin.claims import Email, email_of, is_guest
from kutamo_identity.tenants import binding
from kutamo_identity.tenants.keys import Principal

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
V2 = f"https://login.microsoftonline.com/{TID}/v2.0"
OPERATOR = Principal(actor="operator-key:env", scope="operator", tenant_id=None)
ADMIN = Principal(actor="api-key:x", scope="tenant-admin", tenant_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("claims", "guest"),
    [
        ({"iss": V2}, False),
        ({"iss": V2, "idp": V2}, False),
        ({"iss": V2, "idp": f"https://sts.windows.net/{TID}/"}, False),
        ({"iss": V2, "acct": 0}, False),
        ({"iss": V2, "idp": "live.com"}, True),
        ({"iss": V2, "idp": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/"}, True),
        ({"iss": V2, "acct": 1}, True),
    ],
)
def test_a_guest_is_named_by_another_identity_provider_or_acct_1(claims: dict[str, Any], guest: bool) -> None:
    assert is_guest(claims, TID) is guest


@pytest.mark.parametrize(
    ("claims", "email"),
    [
        ({"email": "a@x.example", "xms_edov": True}, Email(address="a@x.example", source="email", verified=True)),
        ({"email": "a@x.example", "xms_edov": False}, Email(address="a@x.example", source="email")),
        ({"email": "a@x.example"}, Email(address="a@x.example", source="email")),
        (
            {"preferred_username": "a@x.example", "xms_edov": True},
            Email(address="a@x.example", source="preferred_username"),
        ),
        ({"upn": "a@x.example"}, Email(address="a@x.example", source="upn")),
        ({"unique_name": "a@x.example"}, Email(address="a@x.example", source="unique_name")),
        ({}, Email()),
    ],
)
def test_the_email_says_which_claim_it_came_from_and_only_xms_edov_verifies_it(
    claims: dict[str, Any], email: Email
) -> None:
    assert email_of(claims) == email


def test_a_tenant_admins_directory_is_proposed_and_an_operators_pinned() -> None:
    pinned, new = uuid.uuid4(), uuid.uuid4()
    before = {"directory_id": pinned, "proposed_directory_id": None, "application_id": uuid.uuid4()}

    assert binding.directories(ADMIN, None, new) == (None, new)
    assert binding.directories(ADMIN, before, new) == (None, new)
    assert binding.directories(ADMIN, before, pinned) == (pinned, None)
    assert binding.directories(ADMIN, before, None) == (pinned, None)
    assert binding.directories(OPERATOR, before, new) == (new, None)
    assert binding.directories(ADMIN, {**before, "directory_id": None, "proposed_directory_id": new}, None) == (
        None,
        new,
    )


def test_the_pair_changes_with_the_application_or_the_directory() -> None:
    app, directory = uuid.uuid4(), uuid.uuid4()
    before = {"application_id": app, "directory_id": directory}

    assert binding.pair_changes(None, app, directory)
    assert not binding.pair_changes(before, app, directory)
    assert binding.pair_changes(before, uuid.uuid4(), directory)
    assert binding.pair_changes(before, app, uuid.uuid4())
