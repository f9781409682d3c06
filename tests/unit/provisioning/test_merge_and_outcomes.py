"""The worker's rules for one sign-in, without servers: what Graph's answers make of the person
(provisioner.py) and how that is merged into the record a user already has (users.py).

What a user and a downstream team notice: an older sign-in never overwrites a newer one; what Graph
could not tell (title, avatar) keeps its last known value, marked not refreshed with the reason;
what changed is named in the announcement.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, SealingKeys, seal_token
from kutamo_provisioning import users
from kutamo_provisioning.graph import Photo, PhotoTooLarge, Profile, TokenRefused
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.provisioner import Provisioner, email_from_graph
from kutamo_provisioning.users import Details, Item

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEYS = SealingKeys(b"k" * 32)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
OID = str(uuid.uuid4())


def event(*, at: datetime = T0, token: str | None = "graph-token", valid_for: timedelta = timedelta(minutes=5),
          **fields: Any) -> UserSignedIn:  # fmt: skip
    ids = {"event_id": str(uuid.uuid4()), "tenant_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}
    binding = Binding(ids["event_id"], ids["tenant_id"], ids["user_id"], OID)
    sealed = seal_token(KEYS, binding, token, T0 + valid_for) if token else None
    values: dict[str, Any] = {
        **ids, "azure_tid": str(uuid.uuid4()), "azure_oid": OID, "signed_in_at": at, "login_code": "contoso",
        "name": "Adele (id_token)", "email": "adele@id-token.example", "email_source": "email",
        "sealed_graph_token": sealed, **fields,
    }  # fmt: skip
    return UserSignedIn(**values)


class FakeGraph:
    def __init__(self, profile: Profile | Exception, photo: Photo | Exception | None = None) -> None:
        self._profile, self._photo = profile, photo
        self.tokens: list[str] = []

    async def profile(self, token: str) -> Profile:
        self.tokens.append(token)
        if isinstance(self._profile, Exception):
            raise self._profile
        return self._profile

    async def photo(self, token: str) -> Photo | None:
        if isinstance(self._photo, Exception):
            raise self._photo
        return self._photo


def adele(**fields: Any) -> Profile:
    return Profile(**{"id": OID, "display_name": "Adele Vance", "mail": "adele@contoso.com",
                      "job_title": "Retail Manager", **fields})  # fmt: skip


async def details(graph: FakeGraph, sign_in: UserSignedIn) -> tuple[Details, Photo | None]:
    return await Provisioner(graph, KEYS, lambda: T0, Metrics()).details(sign_in)  # type: ignore[arg-type]


# --- what Graph's answers make of the person ---


async def test_a_full_answer_refreshes_name_email_title_and_avatar() -> None:
    graph = FakeGraph(adele(), Photo("image/jpeg", JPEG))
    found, photo = await details(graph, event())
    assert graph.tokens == ["graph-token"], "the sealed token, opened"
    assert (found.name, found.email, found.email_source, found.email_verified) == (
        "Adele Vance", "adele@contoso.com", "graph_mail", False
    )  # fmt: skip
    assert (found.title, found.title_known, found.avatar_known, found.not_refreshed_reason) == (
        "Retail Manager", True, True, None
    )  # fmt: skip
    assert photo == Photo("image/jpeg", JPEG)
    assert found.avatar_sha256 is not None


async def test_a_person_without_a_photo_has_a_known_empty_avatar() -> None:
    found, photo = await details(FakeGraph(adele(), None), event())
    assert (photo, found.avatar_sha256, found.avatar_known, found.not_refreshed_reason) == (None, None, True, None)


@pytest.mark.parametrize(
    ("photo", "reason"),
    [(PhotoTooLarge("photo"), "avatar_too_large"), (Photo("image/svg+xml", b"<svg/>"), "avatar_type_not_allowed")],
)
async def test_a_rejected_photo_keeps_the_avatar_and_says_why(photo: Photo | Exception, reason: str) -> None:
    found, stored = await details(FakeGraph(adele(), photo), event())
    assert (stored, found.title_known, found.avatar_known, found.not_refreshed_reason) == (None, True, False, reason)


@pytest.mark.parametrize(
    ("graph", "sign_in", "reason"),
    [
        (FakeGraph(adele()), event(token=None), "no_graph_token"),
        (FakeGraph(adele()), event(valid_for=timedelta(seconds=-1)), "graph_token_expired"),
        (FakeGraph(TokenRefused("me")), event(), "graph_token_refused"),
        (FakeGraph(adele(id=str(uuid.uuid4()))), event(), "graph_profile_mismatch"),
    ],
)
async def test_without_a_usable_graph_answer_the_id_tokens_claims_are_used_and_title_and_avatar_kept(
    graph: FakeGraph, sign_in: UserSignedIn, reason: str
) -> None:
    found, photo = await details(graph, sign_in)
    assert (found.name, found.email, found.email_source) == ("Adele (id_token)", "adele@id-token.example", "email")
    assert (found.title_known, found.avatar_known, found.not_refreshed_reason, photo) == (False, False, reason, None)


@pytest.mark.parametrize(
    ("mail", "id_token_email", "upn", "expected"),
    [
        ("a@graph.example", "a@token.example", "a@upn.example", ("a@graph.example", "graph_mail", False)),
        (None, "a@token.example", "a@upn.example", ("a@token.example", "email", True)),
        (None, None, "a@upn.example", ("a@upn.example", "graph_user_principal_name", False)),
        (None, None, None, (None, None, False)),
    ],
)
def test_the_email_comes_from_graphs_mail_then_the_id_token_then_the_user_principal_name(
    mail: str | None, id_token_email: str | None, upn: str | None, expected: tuple[str | None, str | None, bool]
) -> None:
    sign_in = event(email=id_token_email, email_verified=True)
    assert email_from_graph(adele(mail=mail, user_principal_name=upn), sign_in) == expected


# --- how it is merged into the record ---


def record(**fields: Any) -> dict[str, Any]:
    return {"name": "Adele Vance", "email": "adele@contoso.com", "email_source": "graph_mail", "email_verified": False,
            "title": "Retail Manager", "avatar_sha256": "aa" * 32, "signed_in_at": T0, "deleted_at": None,
            "profile_refreshed_at": T0, "created_at": T0 - timedelta(days=3), **fields}  # fmt: skip


def test_an_older_or_equally_old_sign_in_is_stale_and_a_newer_one_is_not() -> None:
    before = record()
    assert users._stale(before, event(at=T0 - timedelta(seconds=1)))
    assert users._stale(before, event(at=T0))
    assert not users._stale(before, event(at=T0 + timedelta(microseconds=1)))


def test_every_sign_in_of_a_user_the_directory_deleted_is_stale() -> None:
    assert users._stale(record(deleted_at=T0), event(at=T0 + timedelta(days=1)))


def test_what_graph_could_not_tell_keeps_its_last_value_and_the_record_says_it_was_not_refreshed() -> None:
    now = T0 + timedelta(hours=1)
    sign_in = event(at=now)
    claims_only = Details(name="Adele V.", email=None, not_refreshed_reason="graph_token_expired")

    after = users._merge(record(), Item(sign_in, claims_only), now)

    assert (after["name"], after["email"], after["email_source"]) == ("Adele V.", "adele@contoso.com", "graph_mail")
    assert (after["title"], after["avatar_sha256"]) == ("Retail Manager", "aa" * 32)
    assert (after["profile_refreshed"], after["not_refreshed_reason"]) == (False, "graph_token_expired")
    assert (after["profile_refreshed_at"], after["created_at"], after["updated_at"]) == (
        T0,
        T0 - timedelta(days=3),
        now,
    )
    assert (after["signed_in_at"], after["source_event_id"]) == (now, sign_in.event_id)


def test_a_refreshed_profile_may_clear_the_title_and_the_avatar() -> None:
    now = T0 + timedelta(hours=1)
    refreshed = Details(name="Adele Vance", email="adele@contoso.com", email_source="graph_mail", title=None,
                        title_known=True, avatar_sha256=None, avatar_known=True)  # fmt: skip

    after = users._merge(record(), Item(event(at=now), refreshed), now)
    outcome = users._outcome(record(), after)

    assert (after["title"], after["avatar_sha256"], after["profile_refreshed"]) == (None, None, True)
    assert after["profile_refreshed_at"] == now
    assert (outcome.change, outcome.changed_fields) == ("updated", ["title", "avatar_sha256"])


def test_a_first_sign_in_creates_the_record_naming_the_fields_it_has() -> None:
    first = Details(name="Adele Vance", email=None, title="Buyer", title_known=True, avatar_known=True)
    after = users._merge(None, Item(event(), first), T0)
    outcome = users._outcome(None, after)
    assert (outcome.change, outcome.changed_fields, after["created_at"]) == ("created", ["name", "title"], T0)
    assert after["email_verified"] is False


def test_a_sign_in_that_changes_nothing_visible_is_unchanged() -> None:
    same = Details(name="Adele Vance", email="adele@contoso.com", email_source="graph_mail", title="Retail Manager",
                   title_known=True, avatar_sha256="aa" * 32, avatar_known=True)  # fmt: skip
    after = users._merge(record(), Item(event(at=T0 + timedelta(minutes=1)), same), T0 + timedelta(minutes=1))
    assert (users._outcome(record(), after).change, users._outcome(record(), after).changed_fields) == ("unchanged", [])
