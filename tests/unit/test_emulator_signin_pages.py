"""The emulator's interactive sign-in behaves like login.microsoftonline.com for a popup login page."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from litestar.testing import TestClient

from kutamo_dev.emulator import create_app
from kutamo_dev.emulator.state import EmulatorState

TID = "6f1c5b2a-3d4e-4f50-9a61-7b8c9d0e1f2a"
OTHER_TID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SPA_URI = "https://kutamo.test/login/callback"
WEB_URI = "https://kutamo.test/web/callback"
ORIGIN = "https://kutamo.test"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
HTML_HEADERS = {"cross-origin-opener-policy": "same-origin", "cache-control": "no-store"}


class Clock:
    """The state's clock seam: real time until a test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(state=EmulatorState(clock=clock))) as test_client:
        yield test_client


@pytest.fixture
def ada(client: TestClient[Any]) -> dict[str, Any]:
    return add_user(client, TID, "Ada Lovelace", "ada@contoso.example")


def add_user(client: TestClient[Any], tid: str, name: str, upn: str) -> dict[str, Any]:
    body = {"tid": tid, "display_name": name, "user_principal_name": upn, "mail": upn}
    user: dict[str, Any] = client.post("/_emulator/users", json=body).json()
    return user


def register_app(client: TestClient[Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "client_id": CLIENT_ID,
        "home_tid": TID,
        "redirect_uris": [{"uri": SPA_URI, "type": "spa"}, {"uri": WEB_URI, "type": "web"}],
        **overrides,
    }
    response = client.post("/_emulator/applications", json=body)
    assert response.status_code == 200, response.text
    registration: dict[str, Any] = response.json()
    return registration


def authorize(client: TestClient[Any], tenant: str = TID, **overrides: str) -> httpx.Response:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": SPA_URI,
        "response_type": "id_token token",
        "scope": "openid profile email User.Read",
        "state": "state-1",
        "nonce": "nonce-1",
        **overrides,
    }
    return client.get(f"/{tenant}/oauth2/v2.0/authorize", params=params, follow_redirects=False)


def code_params(**overrides: str) -> dict[str, str]:
    return {"response_type": "code", "code_challenge": CHALLENGE, "code_challenge_method": "S256", **overrides}


def flow_token(page: httpx.Response) -> str:
    match = re.search(r'name="flowToken" value="([^"]+)"', page.text)
    assert match is not None, page.text
    return match.group(1)


def pick(client: TestClient[Any], page: httpx.Response, tenant: str = TID, **form: str) -> httpx.Response:
    data = {"flowToken": flow_token(page), **form}
    return client.post(f"/{tenant}/oauth2/v2.0/authorize", data=data, follow_redirects=False)


def consent(client: TestClient[Any], page: httpx.Response, decision: str, tenant: str = TID) -> httpx.Response:
    data = {"flowToken": flow_token(page), "decision": decision}
    return client.post(f"/{tenant}/oauth2/v2.0/consent", data=data, follow_redirects=False)


def sign_in(client: TestClient[Any], user: dict[str, Any], tenant: str = TID, **params: str) -> httpx.Response:
    """Authorize, pick the user's tile, accept consent if asked: the redirect back to the app."""
    answer = pick(client, authorize(client, tenant, **params), tenant, account=f"{user['tid']}:{user['oid']}")
    if answer.status_code == 200 and "Permissions requested" in answer.text:
        answer = consent(client, answer, "accept", tenant)
    assert answer.status_code == 302, answer.text
    return answer


def returned(response: httpx.Response, part: str = "fragment") -> dict[str, str]:
    location = urlsplit(response.headers["location"])
    return {key: values[0] for key, values in parse_qs(getattr(location, part)).items()}


def assert_error_page(response: httpx.Response, code: int, message: str) -> None:
    assert response.status_code == 200
    assert "location" not in response.headers
    text = html.unescape(response.text)
    assert "Sorry, but we\u2019re having trouble signing you in." in text
    assert f'data-error-code="{code}"' in response.text
    assert f"AADSTS{code}: " in text
    assert message in text
    assert "Troubleshooting details" in text


def redeem(client: TestClient[Any], code: str, origin: str | None = ORIGIN, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "code": code,
        "redirect_uri": SPA_URI,
        "code_verifier": VERIFIER,
        "scope": "openid profile email User.Read",
        **overrides,
    }
    headers = {} if origin is None else {"Origin": origin}
    return client.post(f"/{TID}/oauth2/v2.0/token", data=form, headers=headers)


def verify_id_token(client: TestClient[Any], token: str) -> dict[str, Any]:
    discovery = client.get(f"/{TID}/v2.0/.well-known/openid-configuration").json()
    jwks = client.get(discovery["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk, algorithm="RS256").key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=discovery["issuer"],
    )
    return claims


def at_hash(access_token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()[:16]).rstrip(b"=").decode()


# Errors Microsoft shows on its own page: the app never hears of them.


def test_unknown_tenant_segment_shows_90002_and_does_not_redirect(client: TestClient[Any]) -> None:
    register_app(client)
    assert_error_page(authorize(client, "contoso-typo"), 90002, "Tenant 'contoso-typo' not found.")


def test_unknown_application_shows_700016(client: TestClient[Any]) -> None:
    stranger = str(uuid.uuid4())
    response = authorize(client, client_id=stranger)
    assert_error_page(response, 700016, f"Application with identifier '{stranger}' was not found in the directory")


def test_new_registration_is_not_found_until_propagated_then_signs_in(
    client: TestClient[Any], clock: Clock, ada: dict[str, Any]
) -> None:
    registration = register_app(client, propagation_delay_seconds=300)
    assert registration["propagated"] is False
    assert_error_page(authorize(client), 700016, f"Application with identifier '{CLIENT_ID}' was not found")
    clock.now += 299
    assert_error_page(authorize(client), 700016, "was not found")
    clock.now += 1
    assert client.get(f"/_emulator/applications/{CLIENT_ID}").json()["propagated"] is True
    assert "id_token" in returned(sign_in(client, ada))


def test_replacing_a_registration_restarts_its_propagation(client: TestClient[Any], clock: Clock) -> None:
    register_app(client, propagation_delay_seconds=60)
    clock.now += 61
    register_app(client, propagation_delay_seconds=60, display_name="Kutamo EU")
    assert_error_page(authorize(client), 700016, "was not found")
    assert client.get(f"/_emulator/applications/{CLIENT_ID}").json()["display_name"] == "Kutamo EU"


def test_unregistered_redirect_uri_shows_50011(client: TestClient[Any]) -> None:
    register_app(client)
    response = authorize(client, redirect_uri="https://kutamo.test/login/callback/")
    assert_error_page(
        response, 50011,
        "The redirect URI 'https://kutamo.test/login/callback/' specified in the request does not match the "
        f"redirect URIs configured for the application '{CLIENT_ID}'.",
    )  # fmt: skip


@pytest.mark.parametrize("tenant", ["organizations", "common"])
def test_single_tenant_app_on_a_multi_tenant_endpoint_shows_50194(client: TestClient[Any], tenant: str) -> None:
    register_app(client, display_name="Kutamo")
    response = authorize(client, tenant)
    assert_error_page(
        response, 50194, f"Application '{CLIENT_ID}'(Kutamo) is not configured as a multi-tenant application."
    )


def test_single_tenant_app_is_not_found_in_another_directory(client: TestClient[Any]) -> None:
    register_app(client)
    response = authorize(client, OTHER_TID)
    assert_error_page(response, 700016, f"was not found in the directory '{OTHER_TID}'")


def test_account_from_another_directory_shows_50020(client: TestClient[Any]) -> None:
    register_app(client, sign_in_audience="multi")
    add_user(client, OTHER_TID, "Grace Hopper", "grace@fabrikam.example")
    response = pick(client, authorize(client), loginfmt="grace@fabrikam.example")
    assert_error_page(
        response, 50020,
        f"User account 'grace@fabrikam.example' from identity provider 'https://sts.windows.net/{OTHER_TID}/' "
        f"does not exist in tenant '{TID}' and cannot access the application '{CLIENT_ID}'(Kutamo) in that tenant.",
    )  # fmt: skip


def test_personal_account_cannot_sign_in_at_organizations(client: TestClient[Any]) -> None:
    register_app(client, sign_in_audience="multi")
    add_user(client, "9188040d-6c67-4c5b-b112-36a304b66dad", "Personal Pat", "pat@outlook.example")
    response = pick(client, authorize(client, "organizations"), "organizations", loginfmt="pat@outlook.example")
    assert_error_page(response, 50020, "does not exist in tenant 'organizations'")


# Errors redirected back to the app.


def test_implicit_id_token_not_enabled_redirects_700054_with_state(client: TestClient[Any]) -> None:
    register_app(client, implicit_id_tokens=False)
    answer = returned(authorize(client))
    assert answer["error"] == "invalid_request"
    assert answer["error_description"].startswith(
        "AADSTS700054: response_type 'id_token' is not enabled for the application.\r\nTrace ID: "
    )
    assert "\r\nCorrelation ID: " in answer["error_description"]
    assert "\r\nTimestamp: " in answer["error_description"]
    assert answer["error_uri"] == "https://login.microsoftonline.com/error?code=700054"
    assert answer["state"] == "state-1"


def test_implicit_access_token_not_enabled_redirects_700051(client: TestClient[Any]) -> None:
    register_app(client, implicit_access_tokens=False)
    answer = returned(authorize(client))
    assert answer["error"] == "unsupported_response_type"
    assert answer["error_description"].startswith("AADSTS700051: response_type 'token' is not enabled")


@pytest.mark.parametrize("pkce", [{}, {"code_challenge": CHALLENGE, "code_challenge_method": "plain"}])
def test_code_flow_without_s256_pkce_redirects_9002325_in_the_query(
    client: TestClient[Any], pkce: dict[str, str]
) -> None:
    register_app(client)
    answer = returned(authorize(client, response_type="code", **pkce), "query")
    assert answer["error"] == "invalid_request"
    assert answer["error_description"].startswith("AADSTS9002325: Proof Key for Code Exchange is required")
    assert answer["state"] == "state-1"


def test_id_token_without_nonce_redirects_90014(client: TestClient[Any]) -> None:
    register_app(client)
    answer = returned(authorize(client, nonce=""))
    assert answer["error_description"].startswith("AADSTS90014: The required field 'nonce' is missing.")


def test_declined_consent_redirects_access_denied_65004_with_state(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    register_app(client, display_name="Kutamo Demo")
    consent_page = pick(client, authorize(client), account=f"{TID}:{ada['oid']}")
    assert "Permissions requested" in consent_page.text
    assert "Kutamo Demo" in consent_page.text
    permissions = re.findall(r"<li>([^<]+)</li>", consent_page.text)
    assert permissions == ["Sign you in and read your profile", "View your email address", "View your basic profile"]
    answer = returned(consent(client, consent_page, "cancel"))
    assert answer["error"] == "access_denied"
    assert answer["error_description"].startswith("AADSTS65004: User declined to consent to access the app.")
    assert answer["state"] == "state-1"


# The account picker.


def test_picker_lists_the_directorys_people_and_organizations_lists_every_work_account(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    add_user(client, OTHER_TID, "Grace Hopper", "grace@fabrikam.example")
    add_user(client, "9188040d-6c67-4c5b-b112-36a304b66dad", "Personal Pat", "pat@outlook.example")
    register_app(client, sign_in_audience="multi")
    directory_page = authorize(client)
    assert "Pick an account" in directory_page.text
    assert 'data-test-id="ada@contoso.example"' in directory_page.text
    assert "grace@fabrikam.example" not in directory_page.text
    everyone = authorize(client, "organizations").text
    assert "Ada Lovelace" in everyone
    assert "Grace Hopper" in everyone
    assert "pat@outlook.example" not in everyone
    assert '<label for="i0116">Email, phone, or Skype</label>' in everyone


def test_unknown_typed_username_stays_on_the_picker_with_microsofts_message(client: TestClient[Any]) -> None:
    register_app(client)
    page = pick(client, authorize(client), loginfmt="nobody@contoso.example")
    assert page.status_code == 200
    assert (
        "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin." in page.text
    )
    assert 'name="loginfmt"' in page.text


def test_typed_username_signs_in_and_login_hint_prefills_the_field(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    register_app(client)
    page = authorize(client, login_hint="ada@contoso.example")
    assert 'name="loginfmt" value="ada@contoso.example"' in page.text
    consent_page = pick(client, page, loginfmt="ADA@contoso.example")
    claims = jwt.decode(
        returned(consent(client, consent_page, "accept"))["id_token"], options={"verify_signature": False}
    )
    assert claims["oid"] == ada["oid"]


def test_a_used_flow_token_cannot_be_replayed(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    picker = authorize(client)
    consent(client, pick(client, picker, account=f"{TID}:{ada['oid']}"), "accept")
    assert_error_page(
        pick(client, picker, account=f"{TID}:{ada['oid']}"), 50089, "Authentication failed due to flow token expired."
    )


# Success: implicit flow, and code flow with the token endpoint.


def test_implicit_sign_in_returns_verifiable_tokens_in_the_fragment(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    register_app(client)
    answer = returned(sign_in(client, ada))
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == "3599"
    assert answer["state"] == "state-1"
    uuid.UUID(answer["session_state"])
    claims = verify_id_token(client, answer["id_token"])
    assert (claims["tid"], claims["oid"], claims["aud"], claims["ver"]) == (TID, ada["oid"], CLIENT_ID, "2.0")
    assert claims["nonce"] == "nonce-1"
    assert claims["at_hash"] == at_hash(answer["access_token"])
    me = client.get("/v1.0/me", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert me.json()["id"] == ada["oid"]


def test_id_token_alone_has_no_access_token(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    answer = returned(sign_in(client, ada, response_type="id_token"))
    assert "access_token" not in answer
    assert "at_hash" not in jwt.decode(answer["id_token"], options={"verify_signature": False})


def test_consent_is_asked_once_unless_prompt_consent(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    sign_in(client, ada)
    account = f"{TID}:{ada['oid']}"
    assert pick(client, authorize(client), account=account).status_code == 302
    assert "Permissions requested" in pick(client, authorize(client, prompt="consent"), account=account).text


def test_code_flow_redeems_once_with_the_right_verifier(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    answer = returned(sign_in(client, ada, **code_params()), "query")
    assert answer["state"] == "state-1"
    wrong = redeem(client, answer["code"], code_verifier="x" * 43)
    assert wrong.status_code == 400
    assert wrong.headers["access-control-allow-origin"] == ORIGIN
    assert wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_codes"] == [50148]
    tokens = redeem(client, answer["code"])
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["access-control-allow-origin"] == ORIGIN
    body = tokens.json()
    assert (body["token_type"], body["expires_in"], body["ext_expires_in"]) == ("Bearer", 3599, 3599)
    assert verify_id_token(client, body["id_token"])["nonce"] == "nonce-1"
    me = client.get("/v1.0/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["id"] == ada["oid"]
    reused = redeem(client, answer["code"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_codes"] == [54005]


def test_code_is_returned_in_the_fragment_when_asked(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    response = sign_in(client, ada, **code_params(response_mode="fragment"))
    assert "?" not in response.headers["location"]
    assert "code" in returned(response)


def test_code_expires_after_ten_minutes(client: TestClient[Any], clock: Clock, ada: dict[str, Any]) -> None:
    register_app(client)
    code = returned(sign_in(client, ada, **code_params()), "query")["code"]
    clock.now += 600
    assert redeem(client, code).json()["error_codes"] == [70008]


def test_token_error_has_microsofts_json_shape(client: TestClient[Any]) -> None:
    register_app(client)
    response = redeem(client, "not-a-code")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                         "error_uri"}  # fmt: skip
    assert body["error"] == "invalid_grant"
    assert re.fullmatch(
        r"AADSTS\d+: .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: .+Z",
        body["error_description"],
        re.DOTALL,
    )


def test_cross_origin_redemption_for_a_web_redirect_uri_is_9002326_and_readable(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    register_app(client)
    code = returned(sign_in(client, ada, **code_params(redirect_uri=WEB_URI)), "query")["code"]
    response = redeem(client, code, redirect_uri=WEB_URI)
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith(
        "AADSTS9002326: Cross-origin token redemption is permitted only for the 'Single-Page Application' "
        f"client-type. Request origin: '{ORIGIN}'."
    )


def test_spa_code_redeemed_without_an_origin_is_9002327(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    code = returned(sign_in(client, ada, **code_params()), "query")["code"]
    response = redeem(client, code, origin=None)
    assert response.json()["error_codes"] == [9002327]
    assert "access-control-allow-origin" not in response.headers


def test_token_preflight_allows_post_with_content_type(client: TestClient[Any]) -> None:
    response = client.options(
        f"/{TID}/oauth2/v2.0/token",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )  # fmt: skip
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "content-type" in response.headers["access-control-allow-headers"].lower()


# What every login page promises a browser.


def test_every_login_page_has_coop_no_store_and_no_script(client: TestClient[Any], ada: dict[str, Any]) -> None:
    register_app(client)
    picker = authorize(client)
    pages = [
        authorize(client, "contoso-typo"),
        authorize(client, client_id=str(uuid.uuid4())),
        picker,
        pick(client, picker, loginfmt="nobody@contoso.example"),
        pick(client, picker, account=f"{TID}:{ada['oid']}"),
    ]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        assert {name: page.headers[name] for name in HTML_HEADERS} == HTML_HEADERS
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "<script" not in page.text
    assert consent(client, pages[-1], "accept").headers["cross-origin-opener-policy"] == "same-origin"


def test_script_in_request_parameters_is_escaped(client: TestClient[Any]) -> None:
    script = "<script>alert(1)</script>"
    register_app(client)
    pages = [
        authorize(client, client_id=script),
        authorize(client, redirect_uri=f"https://kutamo.test/{script}"),
        authorize(client, login_hint=script),
    ]
    for page in pages:
        assert "<script" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


# The control API.


def test_registration_is_read_back_and_reset_forgets_apps_and_consents(
    client: TestClient[Any], ada: dict[str, Any]
) -> None:
    registration = register_app(client)
    assert registration["client_id"] == CLIENT_ID
    assert registration["sign_in_audience"] == "single"
    assert (registration["implicit_id_tokens"], registration["implicit_access_tokens"]) == (True, True)
    assert client.get(f"/_emulator/applications/{CLIENT_ID}").json()["redirect_uris"][0] == {
        "uri": SPA_URI,
        "type": "spa",
    }
    sign_in(client, ada)
    assert client.post("/_emulator/reset").status_code == 204
    assert client.get(f"/_emulator/applications/{CLIENT_ID}").status_code == 404
    client.post(
        "/_emulator/users", json={key: ada[key] for key in ("tid", "oid", "display_name", "user_principal_name")}
    )
    register_app(client)
    assert "Permissions requested" in pick(client, authorize(client), account=f"{TID}:{ada['oid']}").text


def test_registration_body_is_validated(client: TestClient[Any]) -> None:
    response = client.post(
        "/_emulator/applications", json={"client_id": CLIENT_ID, "home_tid": TID, "propagation_delay_seconds": -1}
    )
    assert response.status_code == 400
