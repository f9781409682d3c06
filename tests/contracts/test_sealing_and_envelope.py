"""The contracts both services rely on: the sealed Graph token and the CloudEvents record."""

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kutamo_contracts.envelope import EnvelopeError, decode_record, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import (
    Binding,
    SealedTokenError,
    SealingKeys,
    key_id,
    open_token,
    parse_key,
    parse_keys,
    seal_token,
)
from kutamo_contracts.topics import USER_PROVISIONED, USER_SIGNED_IN

KEY = os.urandom(32)
KEYS = SealingKeys(KEY)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
BOUND = Binding("event-1", "tenant-1", "user-1", "oid-1")


def test_a_sealed_token_opens_for_its_event_before_expiry() -> None:
    sealed = seal_token(KEYS, BOUND, "graph-token-value", NOW + timedelta(minutes=10))
    assert "graph-token-value" not in sealed
    assert open_token(KEYS, BOUND, sealed, NOW) == "graph-token-value"


@pytest.mark.parametrize(
    "moved",
    [
        Binding("event-2", "tenant-1", "user-1", "oid-1"),
        Binding("event-1", "tenant-2", "user-1", "oid-1"),
        Binding("event-1", "tenant-1", "user-2", "oid-1"),
        Binding("event-1", "tenant-1", "user-1", "oid-2"),
    ],
    ids=["another event", "another tenant", "another user", "another object id"],
)
def test_a_sealed_token_moved_to_another_event_tenant_user_or_person_does_not_open(moved: Binding) -> None:
    sealed = seal_token(KEYS, BOUND, "graph-token-value", NOW + timedelta(minutes=10))
    with pytest.raises(SealedTokenError):
        open_token(KEYS, moved, sealed, NOW)


def test_a_sealed_token_does_not_open_with_another_key_or_after_expiry() -> None:
    sealed = seal_token(KEYS, BOUND, "graph-token-value", NOW + timedelta(minutes=10))
    with pytest.raises(SealedTokenError, match="key"):
        open_token(SealingKeys(os.urandom(32)), BOUND, sealed, NOW)
    with pytest.raises(SealedTokenError, match="expired"):
        open_token(KEYS, BOUND, sealed, NOW + timedelta(minutes=11))


def test_a_sealed_token_names_its_key_and_opens_during_a_rotation_until_the_old_key_is_dropped() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = seal_token(SealingKeys(old), BOUND, "sealed-before", NOW + timedelta(minutes=10))
    rotating = SealingKeys(current=new, previous=old)
    after = seal_token(rotating, BOUND, "sealed-during", NOW + timedelta(minutes=10))

    assert base64.urlsafe_b64decode(after + "==")[1:9] == key_id(new)
    assert open_token(rotating, BOUND, before, NOW) == "sealed-before"
    assert open_token(rotating, BOUND, after, NOW) == "sealed-during"
    assert open_token(SealingKeys(old, previous=new), BOUND, after, NOW) == "sealed-during"  # either order
    with pytest.raises(SealedTokenError, match="does not hold"):
        open_token(SealingKeys(new), BOUND, before, NOW)


def test_a_token_sealed_in_the_format_before_key_ids_is_refused_as_unknown() -> None:
    nonce = os.urandom(12)
    legacy = AESGCM(KEY).encrypt(nonce, b'{"token":"t","expires_at":"2026-11-26T12:10:00Z"}', b"event-1")
    text = base64.urlsafe_b64encode(b"\x01" + nonce + legacy).decode().rstrip("=")
    with pytest.raises(SealedTokenError, match="unknown format"):
        open_token(KEYS, BOUND, text, NOW)


def test_the_previous_sealing_key_is_optional_and_checked_like_the_current_one() -> None:
    current = base64.b64encode(KEY).decode()
    assert parse_keys(current, "") == SealingKeys(KEY)
    assert parse_keys(current, current).previous == KEY
    with pytest.raises(ValueError, match="TOKEN_SEALING_KEY_PREVIOUS"):
        parse_keys(current, "short")


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA"])
def test_a_mangled_sealed_token_is_refused(text: str) -> None:
    with pytest.raises(SealedTokenError):
        open_token(KEYS, BOUND, text, NOW)


@pytest.mark.parametrize("text", ["", "short", "AAAA"])
def test_a_sealing_key_that_is_not_32_bytes_is_refused_with_what_to_set(text: str) -> None:
    with pytest.raises(ValueError, match="TOKEN_SEALING_KEY"):
        parse_key(text)


def event() -> UserSignedIn:
    return UserSignedIn(
        event_id=str(uuid.uuid4()),
        tenant_id=str(uuid.uuid4()),
        user_id=str(uuid.uuid4()),
        azure_tid=str(uuid.uuid4()),
        azure_oid=str(uuid.uuid4()),
        signed_in_at=NOW,
        login_code="contoso",
        name="Adele",
        email="adele@contoso.com",
    )


def test_an_event_travels_as_a_cloudevent_keyed_by_user() -> None:
    original = event()
    record = encode_record(
        USER_SIGNED_IN,
        original,
        event_id=original.event_id,
        subject=original.user_id,
        source="urn:test",
        time=NOW,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    headers = dict(record.headers)
    assert record.key == original.user_id.encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == original.event_id.encode()
    assert headers["ce_type"] == USER_SIGNED_IN.event_type.encode()
    assert headers["content-type"] == b"application/json"
    assert b"traceparent" in {k.encode() for k in headers}
    assert decode_record(USER_SIGNED_IN, UserSignedIn, record.headers, record.value) == original


def test_a_record_of_another_type_or_with_a_broken_payload_is_refused() -> None:
    original = event()
    record = encode_record(
        USER_SIGNED_IN,
        original,
        event_id=original.event_id,
        subject=original.user_id,
        source="urn:test",
        time=NOW,
    )
    with pytest.raises(EnvelopeError, match="ce_type"):
        decode_record(USER_PROVISIONED, UserSignedIn, record.headers, record.value)
    with pytest.raises(EnvelopeError, match="JSON"):
        decode_record(USER_SIGNED_IN, UserSignedIn, record.headers, b"{not json")
    with pytest.raises(EnvelopeError, match="UserSignedIn"):
        decode_record(USER_SIGNED_IN, UserSignedIn, record.headers, b'{"event_id": "x"}')
    with pytest.raises(EnvelopeError, match="specversion"):
        decode_record(USER_SIGNED_IN, UserSignedIn, [], record.value)


def test_a_record_without_the_required_cloudevents_attributes_is_refused() -> None:
    original = event()
    record = encode_record(
        USER_SIGNED_IN, original, event_id=original.event_id, subject=original.user_id, source="urn:test", time=NOW
    )
    without_source = [(k, v) for k, v in record.headers if k != "ce_source"]
    with pytest.raises(EnvelopeError, match="ce_source"):
        decode_record(USER_SIGNED_IN, UserSignedIn, without_source, record.value)
    assert dict(record.headers)["ce_dataschema"] == USER_SIGNED_IN.dataschema.encode()
