"""Stateless login nonces: bound to their tenant and expiry by an HMAC; anything else is refused."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kutamo_identity.signin import nonces

KEY = nonces.derive_key(b"k" * 32)
TENANT = uuid.UUID("4a7c2f0e-1111-4c3b-9a55-6f2d8e0b1c22")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(minutes=10)


def test_a_nonce_is_accepted_for_its_tenant_until_it_expires() -> None:
    nonce = nonces.issue(KEY, TENANT, EXPIRES)
    assert nonces.check(KEY, nonce, TENANT, NOW) == EXPIRES
    assert nonces.check(KEY, nonce, TENANT, EXPIRES - timedelta(seconds=1)) == EXPIRES
    assert nonces.check(KEY, nonce, TENANT, EXPIRES) is None


def test_every_nonce_is_different_and_url_safe() -> None:
    issued = {nonces.issue(KEY, TENANT, EXPIRES) for _ in range(100)}
    assert len(issued) == 100
    assert all(len(n) == 96 and n.isascii() and "=" not in n for n in issued)


def test_a_nonce_of_another_tenant_is_refused() -> None:
    nonce = nonces.issue(KEY, uuid.uuid4(), EXPIRES)
    assert nonces.check(KEY, nonce, TENANT, NOW) is None


def test_a_nonce_made_with_another_key_is_refused() -> None:
    nonce = nonces.issue(nonces.derive_key(b"x" * 32), TENANT, EXPIRES)
    assert nonces.check(KEY, nonce, TENANT, NOW) is None


def test_the_derived_key_is_not_the_sealing_key() -> None:
    assert nonces.derive_key(b"k" * 32) != b"k" * 32


def test_a_nonce_whose_expiry_was_pushed_back_is_refused() -> None:
    raw = bytearray(base64.urlsafe_b64decode(nonces.issue(KEY, TENANT, NOW - timedelta(seconds=1))))
    raw[16:24] = int((NOW + timedelta(days=1)).timestamp()).to_bytes(8, "big")
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert nonces.check(KEY, forged, TENANT, NOW) is None


@pytest.mark.parametrize(
    "nonce",
    ["", "x" * 43, "x" * 96, "!" * 96, "é" * 96, "A" * 95 + "=", "A" * 200],
)
def test_malformed_or_invented_nonces_are_refused(nonce: str) -> None:
    assert nonces.check(KEY, nonce, TENANT, NOW) is None
