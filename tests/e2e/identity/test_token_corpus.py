"""The token corpus: every way a Microsoft id_token can be wrong, sent to the running identity service
over HTTP. Each case asserts the HTTP status and the problem `code` a frontend would act on."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.e2e.identity import corpus as c
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant

Build = Callable[[c.Attempt], Awaitable[httpx.Response]]


class Ago(int):
    """Seconds relative to the moment the token is minted (negative: in the past), not to import time."""


def _at(value: Any) -> Any:
    return int(time.time()) + int(value) if isinstance(value, Ago) else value


RS256_HEADER = c.b64(b'{"alg":"RS256","kid":"k"}')


def _fill(value: Any, a: c.Attempt) -> Any:
    """Put the tenant's own ids into claim templates ({app}, {tid}) and times relative to now."""
    if isinstance(value, Ago):
        return _at(value)
    if isinstance(value, str):
        return value.replace("{app}", a.tenant.application_id).replace("{tid}", a.tenant.directory_id)
    if isinstance(value, list):
        return [_fill(v, a) for v in value]
    return value


def minted(**mint: Any) -> Build:
    """A token the emulator signs like Microsoft, shaped by `mint` (extra_claims, omit_claims, times...)."""

    async def build(a: c.Attempt) -> httpx.Response:
        nonce = await a.nonce()
        options = {k: _at(v) for k, v in mint.items()}
        options["extra_claims"] = {k: _fill(v, a) for k, v in mint.get("extra_claims", {}).items()}
        tokens = await a.tokens(nonce, **options)
        return await a.post(tokens["id_token"], nonce, access_token=tokens["access_token"])

    return build


def crafted(change: Callable[[str], str], **mint: Any) -> Build:
    """A real token, then changed by `change` the way an attacker would."""

    async def build(a: c.Attempt) -> httpx.Response:
        nonce = await a.nonce()
        tokens = await a.tokens(nonce, **mint)
        return await a.post(change(tokens["id_token"]), nonce)

    return build


def with_access_token(access_token: Callable[[str], str]) -> Build:
    """A valid id_token without at_hash (so nothing binds the access token to it), sent with the access
    token `access_token` makes of a real one."""

    async def build(a: c.Attempt) -> httpx.Response:
        nonce, oid = await a.nonce(), await a.person()
        real = (await a.tokens(nonce, oid=oid))["access_token"]
        id_only = await a.tokens(nonce, oid=oid, include_access_token=False)
        return await a.post(id_only["id_token"], nonce, access_token=access_token(real))

    return build


def raw(id_token: str) -> Build:
    async def build(a: c.Attempt) -> httpx.Response:
        return await a.post(id_token, await a.nonce())

    return build


def expiring(exp_offset: int, **extra: Any) -> Build:
    return minted(issued_at=Ago(-3600), lifetime_seconds=3600 + exp_offset, **extra)


CASES: list[tuple[str, Build, int, str | None]] = [
    # valid tokens
    ("valid-v2", minted(), 201, None),
    ("valid-v1", minted(version="1.0"), 201, None),
    ("valid-without-access-token", minted(include_access_token=False), 201, None),
    # every required claim missing in turn
    *[
        (f"missing-{claim}", minted(omit_claims=[claim]), 401, "token_claim_missing")
        for claim in ("iss", "aud", "sub", "oid", "exp", "iat")
    ],
    ("missing-tid", minted(omit_claims=["tid"]), 401, "token_claim_missing"),
    ("missing-nonce", minted(omit_claims=["nonce"]), 401, "nonce_invalid"),
    ("missing-ver", minted(omit_claims=["ver"]), 401, "token_malformed"),
    # claims wrong in turn
    ("aud-another-app", minted(client_id=c.new_guid()), 401, "token_audience_mismatch"),
    ("aud-as-list", minted(extra_claims={"aud": ["{app}"]}), 401, "token_audience_mismatch"),
    (
        "iss-another-directory",
        minted(extra_claims={"iss": f"https://login.microsoftonline.com/{c.new_guid()}/v2.0"}),
        401,
        "token_issuer_invalid",
    ),
    (
        "iss-v1-format-on-v2-token",
        minted(extra_claims={"iss": "https://sts.windows.net/{tid}/"}),
        401,
        "token_issuer_invalid",
    ),
    (
        "iss-v2-format-on-v1-token",
        minted(version="1.0", extra_claims={"iss": "https://login.microsoftonline.com/{tid}/v2.0"}),
        401,
        "token_issuer_invalid",
    ),
    (
        "iss-lookalike-host",
        minted(extra_claims={"iss": "https://login.microsoftonline.com.evil.example/{tid}/v2.0"}),
        401,
        "token_issuer_invalid",
    ),
    ("ver-unknown", minted(extra_claims={"ver": "3.0"}), 401, "token_malformed"),
    ("tid-not-a-guid", minted(extra_claims={"tid": "contoso.onmicrosoft.com"}), 401, "token_malformed"),
    ("oid-not-a-guid", minted(extra_claims={"oid": "adele"}), 401, "token_claim_invalid"),
    ("exp-as-text", minted(extra_claims={"exp": "tomorrow"}), 401, "token_claim_invalid"),
    ("nonce-of-another-attempt", minted(extra_claims={"nonce": "not-the-one-handed-out"}), 401, "nonce_invalid"),
    # time edges (skew allowed: 120 s)
    ("expired-an-hour-ago", minted(issued_at=Ago(-7200), lifetime_seconds=3600), 401, "token_expired"),
    ("expired-within-skew", expiring(-30), 201, None),
    ("expired-beyond-skew", expiring(-200), 401, "token_expired"),
    ("nbf-in-future-beyond-skew", minted(extra_claims={"nbf": Ago(600)}), 401, "token_not_yet_valid"),
    ("nbf-in-future-within-skew", minted(extra_claims={"nbf": Ago(30)}), 201, None),
    ("iat-in-future", minted(extra_claims={"iat": Ago(600)}), 401, "token_not_yet_valid"),
    # signature and algorithm attacks
    ("alg-none", crafted(c.unsigned), 401, "token_algorithm_not_allowed"),
    ("alg-rs512", crafted(lambda t: c.resign(t, alg="RS512")), 401, "token_algorithm_not_allowed"),
    ("alg-ps256", crafted(lambda t: c.resign(t, alg="PS256")), 401, "token_algorithm_not_allowed"),
    ("alg-es256", crafted(lambda t: c.resign(t, key=c.ATTACKER_EC, alg="ES256")), 401, "token_algorithm_not_allowed"),
    ("flipped-signature-byte", crafted(c.flipped_signature), 401, "token_signature_invalid"),
    (
        "claims-changed-signature-kept",
        crafted(lambda t: c.tampered_payload(t, name="Global Admin")),
        401,
        "token_signature_invalid",
    ),
    ("foreign-key-under-real-kid", crafted(c.resign), 401, "token_signature_invalid"),
    ("signature-stripped", crafted(lambda t: t.rsplit(".", 1)[0] + "."), 401, "token_signature_invalid"),
    ("signature-with-junk-appended", crafted(lambda t: t + "!!!"), 401, "token_malformed"),
    ("signature-padded", crafted(lambda t: t + "=="), 401, "token_malformed"),
    ("payload-with-junk-inside", crafted(lambda t: t.replace(".", ".*", 1)), 401, "token_malformed"),
    # header injection: key material in the header is never trusted or fetched
    (
        "jwk-header-with-attacker-key",
        crafted(lambda t: c.resign(t, header={"jwk": c.attacker_jwk()})),
        401,
        "token_signature_invalid",
    ),
    (
        "x5c-header-with-attacker-key",
        crafted(lambda t: c.resign(t, header={"x5c": c.attacker_certificate_chain()})),
        401,
        "token_signature_invalid",
    ),
    (
        "jku-to-attacker-keys",
        crafted(lambda t: c.resign(t, header={"jku": "https://evil.example/keys", "kid": "evil"})),
        401,
        "signing_key_not_found",
    ),
    (
        "x5u-to-attacker-cert",
        crafted(lambda t: c.resign(t, header={"x5u": "https://evil.example/cert", "kid": "evil"})),
        401,
        "signing_key_not_found",
    ),
    (
        "kid-path-traversal",
        crafted(lambda t: c.resign(t, header={"kid": "../../../../etc/passwd"})),
        401,
        "signing_key_not_found",
    ),
    ("kid-sql-injection", crafted(lambda t: c.resign(t, header={"kid": "x' or '1'='1"})), 401, "signing_key_not_found"),
    ("kid-missing", crafted(lambda t: c.resign(t, header={"kid": None})), 401, "token_malformed"),
    ("kid-huge", crafted(lambda t: c.resign(t, header={"kid": "k" * 5000})), 401, "token_malformed"),
    # cross-directory and personal accounts
    ("other-directory-right-audience", minted(directory=c.new_guid()), 403, "directory_not_allowed"),
    (
        "personal-microsoft-account",
        minted(directory="9188040d-6c67-4c5b-b112-36a304b66dad"),
        403,
        "directory_not_allowed",
    ),
    # malformed and oversized
    ("not-a-jwt", raw("hello"), 401, "token_malformed"),
    ("two-parts", raw("eyJhbGciOiJSUzI1NiJ9.e30"), 401, "token_malformed"),
    ("four-parts", raw("a.b.c.d"), 401, "token_malformed"),
    ("not-base64", raw("!!!.$$$.%%%"), 401, "token_malformed"),
    ("header-not-json", raw(f"{c.b64(b'not json')}.{c.b64(b'{}')}.sig"), 401, "token_malformed"),
    ("payload-a-json-array", raw(f"{RS256_HEADER}.{c.b64(b'[]')}.c2ln"), 401, "token_malformed"),
    ("oversized-token", raw("e" * 20_000), 401, "token_too_large"),
    # the Graph access token travels sealed to the worker, which puts it in an HTTP header
    ("access-token-of-graph", with_access_token(lambda t: t), 201, None),
    ("access-token-text", with_access_token(lambda t: "hello world"), 400, "access_token_malformed"),
    ("access-token-not-ascii", with_access_token(lambda t: t[:-4] + "é"), 400, "access_token_malformed"),
    ("access-token-junk-appended", with_access_token(lambda t: t + "!!!"), 400, "access_token_malformed"),
    ("access-token-two-parts", with_access_token(lambda t: t.rsplit(".", 1)[0]), 400, "access_token_malformed"),
    ("access-token-oversized", with_access_token(lambda t: t + "A" * 17_000), 400, "access_token_malformed"),
]


@pytest.fixture
def attempt(http: httpx.AsyncClient, identity: ServiceProcess, microsoft: Emulator, tenant: Tenant) -> c.Attempt:
    return c.Attempt(http, identity, microsoft, tenant)


def problem_code(response: httpx.Response) -> str | None:
    if response.status_code < 400:
        return None
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body = response.json()
    assert body["status"] == response.status_code
    assert "eyJ" not in response.text  # never a token echoed back
    return str(body["code"])


@pytest.mark.parametrize(("build", "status", "code"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_token_case(attempt: c.Attempt, build: Build, status: int, code: str | None) -> None:
    response = await build(attempt)

    assert (response.status_code, problem_code(response)) == (status, code), response.text
