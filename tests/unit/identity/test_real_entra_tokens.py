"""Real id_tokens Azure AD issued, checked by `validate()` against the keys Microsoft published then.

Every other token test signs its tokens with our own keys (or the emulator's), so a misreading of
Microsoft's format that both sides share would pass them. These two were signed by Microsoft
(tests/unit/identity/entra/README.md says where they come from); the clock is set to the moment
they were checked when recorded. They come from the authorization-code flow without a nonce, so
the one rule they cannot pass is the nonce: every check before it (signature by kid, v1 and v2
issuer, audience, lifetime) must accept them, and each tampering must be refused by its own rule.
"""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kutamo_identity.errors import SignInRefused
from kutamo_identity.signin import azure
from kutamo_identity.signin.keys import SigningKeys
from kutamo_identity.tenants.repository import Connection

HERE = Path(__file__).parent / "entra"
RECORDED = json.loads((HERE / "id_tokens.json").read_text())
DIRECTORY = "30aa0e58-719c-44f0-b5bb-e131f1f68ab3"
V1_APP = "56c77428-2d91-48a0-93e6-ca9154965e51"
V2_APP = "6914484a-38ea-4a0b-801a-bb924cef5235"
LOGIN = "https://login.microsoftonline.com"


def microsoft(keys_file: str) -> httpx.AsyncClient:
    """Microsoft's discovery document (as it is served today) and the key set recorded with the token."""
    keys = (HERE / keys_file).read_bytes()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/{DIRECTORY}/v2.0/.well-known/openid-configuration":
            discovery = {"issuer": f"{LOGIN}/{{tenantid}}/v2.0", "jwks_uri": f"{LOGIN}/{DIRECTORY}/discovery/v2.0/keys"}
            return httpx.Response(200, json=discovery)
        if request.url.path == f"/{DIRECTORY}/discovery/v2.0/keys":
            return httpx.Response(200, content=keys, headers={"content-type": "application/json"})
        return httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def connection(application_id: str) -> Connection:
    return Connection(
        tenant_id=uuid.uuid4(), tenant_name="cboidctesttesttest", application_id=application_id,
        login_code="cboidc", user_note=None, directory_id=DIRECTORY, status="active",
    )  # fmt: skip


async def refusal(version: str, *, application_id: str, at: float | None = None, token: str | None = None) -> str:
    recorded: dict[str, Any] = RECORDED[version]
    now = float(recorded["checked_at"] if at is None else at)
    async with microsoft(recorded["keys"]) as http:
        keys = SigningKeys(http, LOGIN, lambda: datetime.fromtimestamp(now, UTC))
        with pytest.raises(SignInRefused) as caught:
            await azure.validate(
                token or recorded["id_token"],
                connection=connection(application_id),
                keys=keys,
                expect=azure.Expectations(nonce="the-page-nonce", skew_seconds=120),
                now=now,
            )
    return caught.value.code


def tampered(id_token: str) -> str:
    """The same token with one signature byte changed."""
    header, payload, signature = id_token.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return f"{header}.{payload}.{flipped}"


@pytest.mark.parametrize(("version", "app"), [("v1", V1_APP), ("v2", V2_APP)])
async def test_a_real_microsoft_token_passes_every_check_but_the_nonce_it_does_not_carry(
    version: str, app: str
) -> None:
    assert await refusal(version, application_id=app) == "nonce_invalid"


@pytest.mark.parametrize(("version", "app"), [("v1", V1_APP), ("v2", V2_APP)])
async def test_a_real_token_with_one_signature_byte_changed_is_refused_by_the_signature(version: str, app: str) -> None:
    token = tampered(RECORDED[version]["id_token"])
    assert await refusal(version, application_id=app, token=token) == "token_signature_invalid"


async def test_a_real_token_for_another_application_is_refused_by_its_audience() -> None:
    assert await refusal("v2", application_id=V1_APP) == "token_audience_mismatch"


async def test_a_real_token_an_hour_and_more_after_it_was_issued_is_expired() -> None:
    # Issued 2016-08-02 14:32:41 UTC for 65 minutes (exp 1470152261); 120 s of skew allowed.
    assert await refusal("v2", application_id=V2_APP, at=1470152261 + 121) == "token_expired"
    assert await refusal("v2", application_id=V2_APP, at=1470152261 + 119) == "nonce_invalid"
