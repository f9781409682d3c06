"""The id_token rules, checked without servers: a key set in memory stands in for Microsoft's keys."""

import base64
import binascii
import hashlib
import random
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kutamo_identity.errors import SignInRefused
from kutamo_identity.signin import azure, compact
from kutamo_identity.tenants.repository import Connection

TID = str(uuid.uuid4())
APP = str(uuid.uuid4())
KID = "key-1"
NONCE = "n-123"
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeysInMemory:
    """Stands in for SigningKeys: one directory, one key, and a count of look-ups."""

    def __init__(self) -> None:
        self.lookups = 0

    async def lookup(self, tid: str, kid: str) -> tuple[Any | None, str]:
        self.lookups += 1
        key = PRIVATE.public_key() if (tid, kid) == (TID, KID) else None
        return key, f"https://login.microsoftonline.com/{tid}/v2.0"


def connection(**changes: Any) -> Connection:
    values: dict[str, Any] = {
        "tenant_id": uuid.uuid4(),
        "tenant_name": "Contoso",
        "application_id": APP,
        "login_code": "contoso",
        "user_note": None,
        "directory_id": TID,
        "status": "active",
    }
    return Connection(**{**values, **changes})


def token(*, alg: str = "RS256", kid: str = KID, key: Any = PRIVATE, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "aud": APP,
        "iss": f"https://login.microsoftonline.com/{TID}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "sub": "pairwise",
        "oid": str(uuid.uuid4()),
        "tid": TID,
        "ver": "2.0",
        "name": "Adele Vance",
        "email": "adele@contoso.com",
        "nonce": NONCE,
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


async def check(
    id_token: str,
    conn: Connection | None = None,
    keys: KeysInMemory | None = None,
    *,
    nonce: str = NONCE,
    access_token: str | None = None,
) -> azure.MicrosoftIdentity:
    return await azure.validate(
        id_token,
        connection=conn or connection(),
        keys=keys or KeysInMemory(),  # type: ignore[arg-type]
        expect=azure.Expectations(nonce=nonce, access_token=access_token, skew_seconds=60),
        now=time.time(),
    )


async def refused_code(id_token: str, **kw: Any) -> str:
    with pytest.raises(SignInRefused) as caught:
        await check(id_token, **kw)
    return caught.value.code


async def test_a_valid_v2_token_names_the_person_by_tid_and_oid() -> None:
    oid = str(uuid.uuid4())
    person = await check(token(oid=oid))
    assert (person.tid, person.oid, person.name, person.email.address) == (
        TID,
        oid,
        "Adele Vance",
        "adele@contoso.com",
    )
    assert (person.email.source, person.email.verified) == ("email", False)


async def test_a_valid_v1_token_is_checked_against_the_v1_issuer() -> None:
    person = await check(token(ver="1.0", iss=f"https://sts.windows.net/{TID}/", email=None, upn="adele@contoso.com"))
    assert (person.email.address, person.email.source) == ("adele@contoso.com", "upn")


async def test_a_v1_token_with_a_v2_issuer_is_refused() -> None:
    assert await refused_code(token(ver="1.0")) == "token_issuer_invalid"


async def test_an_issuer_of_another_directory_is_refused() -> None:
    assert (
        await refused_code(token(iss=f"https://login.microsoftonline.com/{uuid.uuid4()}/v2.0"))
        == "token_issuer_invalid"
    )


async def test_hs256_tokens_are_refused_whatever_their_secret() -> None:
    assert (
        await refused_code(token(alg="HS256", key="guess-the-secret-guess-the-secret")) == "token_algorithm_not_allowed"
    )


async def test_a_token_from_another_directory_is_refused_before_any_key_lookup() -> None:
    keys = KeysInMemory()
    assert await refused_code(token(tid=str(uuid.uuid4())), keys=keys) == "directory_not_allowed"
    assert keys.lookups == 0


async def test_a_personal_microsoft_account_is_refused() -> None:
    assert await refused_code(token(tid="9188040d-6c67-4c5b-b112-36a304b66dad")) == "directory_not_allowed"


async def test_a_connection_without_a_pinned_directory_lets_nobody_in() -> None:
    code = await refused_code(token(), conn=connection(directory_id=None, status="pending_verification"))
    assert code == "connection_pending_verification"


async def test_a_disabled_connection_lets_nobody_in() -> None:
    assert await refused_code(token(), conn=connection(status="disabled")) == "connection_disabled"


async def test_an_unknown_signing_key_is_refused() -> None:
    assert await refused_code(token(kid="not-published")) == "signing_key_not_found"


async def test_a_signature_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await refused_code(token(key=other)) == "token_signature_invalid"


@pytest.mark.parametrize("claim", ["sub", "oid", "iat", "exp", "aud", "iss"])
async def test_a_token_missing_a_required_claim_is_refused(claim: str) -> None:
    assert await refused_code(token(**{claim: None})) == "token_claim_missing"


async def test_expiry_allows_the_configured_skew_and_no_more() -> None:
    now = int(time.time())
    await check(token(iat=now - 3700, nbf=now - 3700, exp=now - 30))
    assert await refused_code(token(iat=now - 3700, nbf=now - 3700, exp=now - 120)) == "token_expired"


async def test_a_token_not_valid_yet_is_refused() -> None:
    now = int(time.time())
    assert await refused_code(token(nbf=now + 600, iat=now + 600)) == "token_not_yet_valid"


async def test_the_nonce_in_the_token_must_be_the_one_handed_out() -> None:
    assert await refused_code(token(), nonce="n-456") == "nonce_invalid"
    assert await refused_code(token(nonce=None)) == "nonce_invalid"


async def test_an_access_token_not_issued_with_the_id_token_is_refused() -> None:
    digest = hashlib.sha256(b"the-real-access-token").digest()
    at_hash = base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
    await check(token(at_hash=at_hash), access_token="the-real-access-token")
    assert await refused_code(token(at_hash=at_hash), access_token="a-swapped-token") == "access_token_mismatch"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a..c", "e30.e30", "!!!.###.$$$"])
async def test_garbage_is_refused_as_malformed(garbage: str) -> None:
    assert await refused_code(garbage) == "token_malformed"


async def test_an_oversized_token_is_refused_before_decoding() -> None:
    assert await refused_code("x" * (azure.MAX_TOKEN_BYTES + 1)) == "token_too_large"


async def test_a_tid_that_is_not_a_guid_is_refused_as_malformed() -> None:
    assert await refused_code(token(tid="contoso.onmicrosoft.com")) == "token_malformed"


async def test_a_verification_sign_in_may_come_from_a_new_directory_but_not_a_personal_account() -> None:
    pending = connection(directory_id=None, status="pending_verification")
    person = await azure.validate(
        token(),
        connection=pending,
        keys=KeysInMemory(),  # type: ignore[arg-type]
        expect=azure.Expectations(nonce=NONCE, verifying=True),
        now=time.time(),
    )
    assert person.tid == TID
    with pytest.raises(SignInRefused) as caught:
        await azure.validate(
            token(tid=azure.PERSONAL_ACCOUNTS_TID),
            connection=pending,
            keys=KeysInMemory(),  # type: ignore[arg-type]
            expect=azure.Expectations(nonce=NONCE, verifying=True),
            now=time.time(),
        )
    assert caught.value.code == "directory_not_allowed"


async def test_refusals_carry_a_hint_for_the_it_admin_where_it_helps() -> None:
    with pytest.raises(SignInRefused) as caught:
        await check(token(aud=str(uuid.uuid4())))
    assert caught.value.admin_hint is not None
    assert "Application (client) ID" in caught.value.admin_hint


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t + "!!!",
        lambda t: t + "=",
        lambda t: t + "AAA",  # 342 signature characters + 3: a length no encoder produces
        lambda t: t.replace(".", ".!", 1),
        lambda t: t.replace(".", "\n.", 1),
        lambda t: t[:-1] + "+",
    ],
    ids=[
        "junk-after-signature",
        "padding",
        "impossible-length",
        "junk-in-payload",
        "newline-in-header",
        "not-url-safe",
    ],
)
async def test_a_token_changed_outside_base64url_is_refused_even_if_a_lax_decoder_reads_the_same_bytes(
    change: Any,
) -> None:
    assert await refused_code(change(token())) == "token_malformed"


def jose(*segments: bytes) -> str:
    return ".".join(base64.urlsafe_b64encode(s).decode().rstrip("=") for s in segments)


@pytest.mark.parametrize(
    "access_token",
    [
        jose(b'{"alg":"RS256","typ":"JWT"}', b'{"aud":"https://graph.microsoft.com"}', b"signature"),
        jose(b'{"alg":"RSA-OAEP","enc":"A256GCM"}', b"key", b"iv", b"ciphertext", b"tag"),
        jose(b'{"alg":"dir","enc":"A256GCM"}', b"", b"iv", b"ciphertext", b"tag"),
    ],
    ids=["jws", "jwe", "jwe-direct"],
)
def test_an_access_token_of_jws_or_jwe_compact_shape_is_well_formed(access_token: str) -> None:
    assert compact.is_jose_compact(access_token)


@pytest.mark.parametrize(
    "access_token",
    [
        "hello world",
        "graph-token",
        jose(b'{"alg":"RS256"}', b"{}", b"sig") + "é",
        jose(b'{"alg":"RS256"}', b"{}", b"sig").replace(".", ".\u00e9", 1),
        jose(b'{"alg":"RS256"}', b"{}", b"sig") + "!!!",
        jose(b'{"alg":"RS256"}', b"{}"),
        jose(b'{"alg":"RS256"}', b"{}", b"sig", b"more"),
        jose(b"not json", b"{}", b"sig"),
        jose(b"[]", b"{}", b"sig"),
        "." + jose(b"{}", b"sig"),
        jose(b'{"alg":"RS256"}', b"x" * compact.MAX_ACCESS_TOKEN_CHARS, b"sig"),
    ],
    ids=[
        "text", "opaque", "non-ascii-appended", "non-ascii-inside", "junk-appended", "two-segments", "four-segments",
        "header-not-json", "header-not-an-object", "empty-header", "oversized",
    ],
)  # fmt: skip
def test_an_access_token_of_any_other_shape_is_malformed(access_token: str) -> None:
    assert not compact.is_jose_compact(access_token)


def test_reading_a_segment_agrees_with_decoding_it() -> None:
    """Segments are read without a decode-and-re-encode round: is_b64url (and b64url, which relies on it)
    must accept exactly the canonical base64url segments (non-canonical trailing bits, padding, foreign
    characters refused)."""
    generator = random.Random(14)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    segments = ["", "a", "ab=", "a!b", "AQ", "AR", "AAE", "AAF", "Zm9v", "Zm9vYg", "Zm9vYh"] + [
        "".join(generator.choice(alphabet) for _ in range(length)) for length in range(1, 30) for _ in range(100)
    ]
    for segment in segments:
        assert compact.is_b64url(segment) == _strictly_base64url(segment), segment
        if compact.is_b64url(segment):
            assert base64.urlsafe_b64encode(compact.b64url(segment)).rstrip(b"=") == segment.encode()
        else:
            with pytest.raises(ValueError, match="base64url"):
                compact.b64url(segment)


def _strictly_base64url(segment: str) -> bool:
    """The reference: the URL-safe alphabet, no padding, and re-encoding the decoded bytes gives it back."""
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in segment):
        return False
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:
        return False
    return base64.urlsafe_b64encode(data).rstrip(b"=") == segment.encode()
