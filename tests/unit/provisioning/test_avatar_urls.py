"""Signed avatar URLs: valid for their tenant and hash until they expire, and during a key rotation."""

import os
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from kutamo_contracts.sealing import SealingKeys
from kutamo_provisioning.avatar_urls import AvatarUrls

NOW = datetime(2026, 11, 26, 12, 0, 7, tzinfo=UTC)
TENANT, SHA = uuid.uuid4(), "ab" * 32


def parts(url: str) -> tuple[int, str]:
    query = parse_qs(urlsplit(url).query)
    return int(query["expires"][0]), query["signature"][0]


def test_a_url_works_for_at_least_one_ttl_and_at_most_two_then_expires() -> None:
    urls = AvatarUrls(SealingKeys(os.urandom(32)), ttl_seconds=3600)
    expires, signature = parts(urls.url(TENANT, SHA, NOW))

    assert 3600 <= urls.seconds_left(TENANT, SHA, expires, signature, NOW) <= 7200
    assert urls.seconds_left(TENANT, SHA, expires, signature, NOW + timedelta(seconds=7200)) == 0


def test_the_same_users_url_is_stable_within_a_ttl_so_browsers_can_cache_it() -> None:
    urls = AvatarUrls(SealingKeys(os.urandom(32)), ttl_seconds=3600)
    assert urls.url(TENANT, SHA, NOW) == urls.url(TENANT, SHA, NOW + timedelta(minutes=30))


def test_a_url_for_another_tenant_hash_or_expiry_or_another_key_is_refused() -> None:
    key = os.urandom(32)
    urls = AvatarUrls(SealingKeys(key), ttl_seconds=3600)
    expires, signature = parts(urls.url(TENANT, SHA, NOW))

    assert urls.seconds_left(uuid.uuid4(), SHA, expires, signature, NOW) == 0
    assert urls.seconds_left(TENANT, "cd" * 32, expires, signature, NOW) == 0
    assert urls.seconds_left(TENANT, SHA, expires + 3600, signature, NOW) == 0
    assert AvatarUrls(SealingKeys(os.urandom(32)), 3600).seconds_left(TENANT, SHA, expires, signature, NOW) == 0
    rotated = AvatarUrls(SealingKeys(os.urandom(32), previous=key), 3600)
    assert rotated.seconds_left(TENANT, SHA, expires, signature, NOW) > 0
