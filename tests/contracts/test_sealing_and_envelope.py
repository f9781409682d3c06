"""The contracts both services rely on: the sealed Graph token and the CloudEvents record."""

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kutamo_contracts.envelope import EnvelopeError, decode_record, encode_record
from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import SealedTokenError, open_token, parse_key, seal_token
from kutamo_contracts.topics import USER_PROVISIONED, USER_SIGNED_IN

KEY = os.urandom(32)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_a_sealed_token_opens_for_its_event_before_expiry() -> None:
    sealed = seal_token(KEY, "event-1", "graph-token-value", NOW + timedelta(minutes=10))
    assert "graph-token-value" not in sealed
    assert open_token(KEY, "event-1", sealed, NOW) == "graph-token-value"


def test_a_sealed_token_moved_to_another_event_does_not_open() -> None:
    sealed = seal_token(KEY, "event-1", "graph-token-value", NOW + timedelta(minutes=10))
    with pytest.raises(SealedTokenError):
        open_token(KEY, "event-2", sealed, NOW)


def test_a_sealed_token_does_not_open_with_another_key_or_after_expiry() -> None:
    sealed = seal_token(KEY, "event-1", "graph-token-value", NOW + timedelta(minutes=10))
    with pytest.raises(SealedTokenError):
        open_token(os.urandom(32), "event-1", sealed, NOW)
    with pytest.raises(SealedTokenError, match="expired"):
        open_token(KEY, "event-1", sealed, NOW + timedelta(minutes=11))


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA"])
def test_a_mangled_sealed_token_is_refused(text: str) -> None:
    with pytest.raises(SealedTokenError):
        open_token(KEY, "event-1", text, NOW)


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
