"""Pure rules of the worker: which avatars are accepted, how the operator key is configured, and how an
unexpected failure is described (class, message, where) without the Graph token."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kutamo_contracts.events import UserSignedIn
from kutamo_contracts.sealing import Binding, SealingKeys, seal_token
from kutamo_provisioning import avatars
from kutamo_provisioning.config import ConfigError, from_env
from kutamo_provisioning.errors import ProcessingFailed, describe
from kutamo_provisioning.graph import Photo
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.provisioner import Provisioner

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ENV = {
    "DATABASE_URL": "postgresql://u@localhost/db",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "TOKEN_SEALING_KEY": base64.b64encode(b"k" * 32).decode(),
    "IDENTITY_BASE_URL": "http://localhost:8000",
}


@pytest.mark.parametrize(("content_type", "data"), [("image/jpeg", JPEG), ("image/png", PNG)])
def test_a_real_jpeg_or_png_is_accepted(content_type: str, data: bytes) -> None:
    assert avatars.rejection(Photo(content_type, data)) is None


def test_an_image_type_outside_the_allow_list_is_rejected() -> None:
    assert avatars.rejection(Photo("image/svg+xml", b"<svg onload=alert(1)>")) == "avatar_type_not_allowed"


def test_bytes_that_are_not_the_announced_image_type_are_rejected() -> None:
    assert avatars.rejection(Photo("image/jpeg", b"<html>not a photo</html>")) == "avatar_bytes_not_an_image"
    assert avatars.rejection(Photo("image/jpeg", PNG)) == "avatar_bytes_not_an_image"


def test_an_avatars_content_hash_is_the_sha256_of_its_bytes_whatever_its_type() -> None:
    # FIPS 180-2's known answer for "abc": downstream teams check `avatar_sha256` with any SHA-256 tool.
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert avatars.content_hash(Photo("image/jpeg", b"abc")) == abc
    assert avatars.content_hash(Photo("image/png", b"abc")) == abc
    assert avatars.content_hash(Photo("image/jpeg", JPEG)) != avatars.content_hash(Photo("image/jpeg", JPEG + b"\x00"))


def test_without_an_operator_key_operators_have_no_access() -> None:
    assert from_env(ENV).operator_key is None


def test_a_short_operator_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="KUTAMO_OPERATOR_KEY"):
        from_env({**ENV, "KUTAMO_OPERATOR_KEY": "letmein"})


def test_a_long_operator_key_is_taken() -> None:
    assert from_env({**ENV, "KUTAMO_OPERATOR_KEY": "k" * 40}).operator_key == "k" * 40


def test_two_batches_are_in_flight_unless_configured() -> None:
    assert from_env(ENV).batches_in_flight == 2
    assert from_env({**ENV, "BATCHES_IN_FLIGHT": "1"}).batches_in_flight == 1


@pytest.mark.parametrize("value", ["0", "17", "two"])
def test_a_batches_in_flight_setting_out_of_range_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="BATCHES_IN_FLIGHT"):
        from_env({**ENV, "BATCHES_IN_FLIGHT": value})


def _raise(exc: Exception) -> None:
    raise exc


def _raised(exc: Exception) -> Exception:
    """`exc` with a traceback, as the worker catches it."""
    try:
        _raise(exc)
    except Exception as caught:
        return caught
    raise AssertionError("not raised")


def test_an_unexpected_failure_names_its_class_and_message_but_never_the_graph_token() -> None:
    token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln-é"
    cause = _raised(ValueError(f"Illegal header value b'Bearer {token}' ({token!r}, {token.encode()!r})"))

    failure = ProcessingFailed(cause, hide=(token,))

    assert (failure.code, failure.error_class) == ("processing_failed", "ValueError")
    assert failure.detail.startswith("Illegal header value")
    assert "test_worker_rules.py:" in failure.detail, "where it was raised, for the operator"
    assert "c2ln" not in failure.detail
    assert "eyJ" not in failure.detail


def test_a_token_shaped_text_is_scrubbed_even_when_nobody_said_it_was_secret() -> None:
    detail = describe(RuntimeError("sent Authorization: Bearer abc.def.ghi and eyJhbGciOiJub25lIn0.e30.sig"))

    assert "abc.def" not in detail
    assert "eyJhbGci" not in detail
    assert detail.count("[redacted]") == 2


async def test_whatever_the_graph_client_raises_becomes_a_processing_failure_without_the_token() -> None:
    token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.dGhlLXNpZ25hdHVyZQ"

    class BrokenGraph:
        async def profile(self, sent: str) -> None:
            raise KeyError(f"no route for {sent}")

    keys, now = SealingKeys(b"k" * 32), datetime.now(UTC)
    binding = Binding(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
    event = UserSignedIn(
        event_id=binding.event_id, tenant_id=binding.tenant_id, user_id=binding.user_id,
        azure_tid=str(uuid.uuid4()), azure_oid=binding.azure_oid, signed_in_at=now, login_code="contoso",
        sealed_graph_token=seal_token(keys, binding, token, now + timedelta(minutes=5)),
    )  # fmt: skip
    provisioner = Provisioner(BrokenGraph(), keys, lambda: datetime.now(UTC), Metrics())  # type: ignore[arg-type]

    with pytest.raises(ProcessingFailed) as raised:
        await provisioner.details(event)

    assert raised.value.error_class == "KeyError"
    assert token not in raised.value.detail
    assert "dGhlLXNpZ25hdHVyZQ" not in raised.value.detail
    assert raised.value.__suppress_context__, "no traceback carries the exception that held the token"
