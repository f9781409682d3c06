"""Pure rules of the worker: which avatars are accepted, and how the operator key is configured."""

import base64

import pytest

from kutamo_provisioning import avatars
from kutamo_provisioning.config import ConfigError, from_env
from kutamo_provisioning.graph import Photo

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


def test_the_same_picture_twice_has_one_content_hash() -> None:
    assert avatars.content_hash(Photo("image/jpeg", JPEG)) == avatars.content_hash(Photo("image/jpeg", JPEG))


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
