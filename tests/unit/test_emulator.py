"""The Microsoft emulator speaks Microsoft's paths and formats, and its control API steers it."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from kutamo_dev.emulator import create_app
from kutamo_dev.emulator.state import EmulatorState

TID = "6f1c5b2a-3d4e-4f50-9a61-7b8c9d0e1f2a"
CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def state() -> EmulatorState:
    return EmulatorState()


@pytest.fixture
def client(state: EmulatorState) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(state=state)) as test_client:
        yield test_client


def add_user(client: TestClient[Any], **overrides: Any) -> dict[str, Any]:
    body = {
        "tid": TID,
        "display_name": "Ada Lovelace",
        "mail": "ada@contoso.example",
        "user_principal_name": "ada@contoso.example",
        "job_title": "Analyst",
        **overrides,
    }
    response = client.post("/_emulator/users", json=body)
    assert response.status_code == 201
    user: dict[str, Any] = response.json()
    return user


def mint(client: TestClient[Any], user: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {"tid": user["tid"], "oid": user["oid"], "client_id": CLIENT_ID, **overrides}
    response = client.post("/_emulator/tokens", json=body)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def verify_with_published_keys(client: TestClient[Any], token: str, tenant: str, version: str) -> dict[str, Any]:
    """Verify the way a relying party would: discovery -> jwks_uri -> key by kid -> issuer and audience."""
    well_known = (
        f"/{tenant}/v2.0/.well-known/openid-configuration"
        if version == "2.0"
        else (f"/{tenant}/.well-known/openid-configuration")
    )
    discovery = client.get(well_known).json()
    jwks = client.get(discovery["jwks_uri"]).json()
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        jwt.PyJWK(jwk, algorithm="RS256").key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=discovery["issuer"].replace("{tenantid}", tenant),
    )
    return claims


def me(client: TestClient[Any], token: str | None, path: str = "/v1.0/me", **params: str) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.get(path, headers=headers, params=params)


def test_health_answers_ok(client: TestClient[Any]) -> None:
    response = client.get("/_emulator/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_directory_discovery_keeps_microsofts_issuer_and_points_keys_at_the_emulator(
    client: TestClient[Any],
) -> None:
    document = client.get(f"/{TID}/v2.0/.well-known/openid-configuration").json()
    assert document["issuer"] == f"https://login.microsoftonline.com/{TID}/v2.0"
    assert document["jwks_uri"] == f"http://testserver.local/{TID}/discovery/v2.0/keys"
    assert document["authorization_endpoint"].endswith(f"/{TID}/oauth2/v2.0/authorize")
    assert document["token_endpoint"].endswith(f"/{TID}/oauth2/v2.0/token")
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["msgraph_host"] == "graph.microsoft.com"
    assert document["tenant_region_scope"] is not None


@pytest.mark.parametrize("tenant", ["common", "organizations"])
def test_multi_tenant_discovery_gives_the_tenantid_template(client: TestClient[Any], tenant: str) -> None:
    document = client.get(f"/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert document["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert document["jwks_uri"] == f"http://testserver.local/{tenant}/discovery/v2.0/keys"


def test_public_url_replaces_the_request_host_in_key_urls(state: EmulatorState) -> None:
    state.public_url = "https://emulator.kutamo.test/"
    with TestClient(create_app(state=state)) as client:
        document = client.get(f"/{TID}/v2.0/.well-known/openid-configuration").json()
    assert document["jwks_uri"] == f"https://emulator.kutamo.test/{TID}/discovery/v2.0/keys"


def test_v1_discovery_uses_the_sts_issuer_and_v1_key_path(client: TestClient[Any]) -> None:
    document = client.get(f"/{TID}/.well-known/openid-configuration").json()
    assert document["issuer"] == f"https://sts.windows.net/{TID}/"
    assert document["jwks_uri"] == f"http://testserver.local/{TID}/discovery/keys"
    keys = client.get(f"/{TID}/discovery/keys").json()["keys"]
    assert all("issuer" not in key for key in keys)


def test_unknown_tenant_gets_microsofts_tenant_not_found_error(client: TestClient[Any]) -> None:
    response = client.get("/not-a-tenant/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"
    assert response.json()["error_codes"] == [90002]


def test_key_set_has_two_rsa_signing_keys_without_alg_and_one_unusable_key(client: TestClient[Any]) -> None:
    keys = client.get(f"/{TID}/discovery/v2.0/keys").json()["keys"]
    rsa_keys = [key for key in keys if key["kty"] == "RSA"]
    assert len(rsa_keys) == 2
    for key in rsa_keys:
        assert key["use"] == "sig"
        assert "alg" not in key
        assert key["x5t"] == key["kid"]
        assert key["issuer"] == f"https://login.microsoftonline.com/{TID}/v2.0"
        assert {"n", "e", "x5c"} <= key.keys()
    assert [key["kty"] for key in keys if key["kty"] != "RSA"] == ["EC"]


def test_v2_id_token_verifies_against_published_key_with_discovery_issuer(client: TestClient[Any]) -> None:
    user = add_user(client)
    tokens = mint(client, user, nonce="n-0S6_WzA2Mj")
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header == {"typ": "JWT", "alg": "RS256", "kid": header["kid"]}
    claims = verify_with_published_keys(client, tokens["id_token"], TID, "2.0")
    assert claims["ver"] == "2.0"
    assert (claims["tid"], claims["oid"]) == (TID, user["oid"])
    assert claims["name"] == "Ada Lovelace"
    assert claims["preferred_username"] == "ada@contoso.example"
    assert claims["email"] == "ada@contoso.example"
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["exp"] - claims["iat"] == 3600
    assert {"aio", "rh", "sid", "uti", "nbf"} <= claims.keys()


def test_id_token_carries_at_hash_of_the_access_token_minted_with_it(client: TestClient[Any]) -> None:
    tokens = mint(client, add_user(client))
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_id_token_alone_has_no_at_hash_and_no_access_token(client: TestClient[Any]) -> None:
    tokens = mint(client, add_user(client), include_access_token=False)
    assert tokens["access_token"] is None
    assert "at_hash" not in jwt.decode(tokens["id_token"], options={"verify_signature": False})


def test_subject_is_pairwise_per_application_but_stable(client: TestClient[Any]) -> None:
    user = add_user(client, oid="00000000-0000-0000-0000-0000000000a1")

    def subject(client_id: str) -> str:
        token = mint(client, user, client_id=client_id)["id_token"]
        return str(jwt.decode(token, options={"verify_signature": False})["sub"])

    # Recorded once: the same person and application get this subject from every emulator, after restarts too.
    assert subject("11111111-2222-3333-4444-555555555555") == "xEmjX75sMs15bL5L3MJuwFZFRgc70bPPI9bpUG99Ico"
    assert subject(CLIENT_ID) != subject(str(uuid.uuid4()))


def test_user_without_mail_gets_no_email_claim(client: TestClient[Any]) -> None:
    tokens = mint(client, add_user(client, mail=None))
    assert "email" not in jwt.decode(tokens["id_token"], options={"verify_signature": False})


def test_v1_id_token_has_v1_issuer_version_and_x5t(client: TestClient[Any]) -> None:
    tokens = mint(client, add_user(client), version="1.0")
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header["x5t"] == header["kid"]
    claims = verify_with_published_keys(client, tokens["id_token"], TID, "1.0")
    assert claims["iss"] == f"https://sts.windows.net/{TID}/"
    assert claims["ver"] == "1.0"
    assert claims["upn"] == claims["unique_name"] == "ada@contoso.example"


def test_extra_and_omitted_claims_shape_tokens_for_negative_tests(client: TestClient[Any]) -> None:
    tokens = mint(client, add_user(client), extra_claims={"tid": str(uuid.uuid4())}, omit_claims=["oid"])
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["tid"] != TID
    assert "oid" not in claims


def test_minting_for_an_unknown_user_is_a_problem(client: TestClient[Any]) -> None:
    response = client.post("/_emulator/tokens", json={"tid": TID, "oid": str(uuid.uuid4()), "client_id": CLIENT_ID})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "user_not_found"


def test_me_returns_the_profile_of_the_token_user(client: TestClient[Any]) -> None:
    user = add_user(client)
    response = me(client, mint(client, user)["access_token"])
    assert response.status_code == 200
    profile = response.json()
    assert profile["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert profile["id"] == user["oid"]
    assert profile["displayName"] == "Ada Lovelace"
    assert profile["mail"] == "ada@contoso.example"
    assert profile["userPrincipalName"] == "ada@contoso.example"
    assert profile["jobTitle"] == "Analyst"


def test_me_honours_select(client: TestClient[Any]) -> None:
    user = add_user(client, job_title=None, mail=None)
    token = mint(client, user)["access_token"]
    response = me(client, token, **{"$select": "id,displayName,mail,userPrincipalName,jobTitle"})
    assert response.json() == {
        "@odata.context": (
            "https://graph.microsoft.com/v1.0/$metadata#users(id,displayName,mail,userPrincipalName,jobTitle)/$entity"
        ),
        "id": user["oid"],
        "displayName": "Ada Lovelace",
        "mail": None,
        "userPrincipalName": "ada@contoso.example",
        "jobTitle": None,
    }


def test_me_rejects_a_select_of_an_unknown_property(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    response = me(client, token, **{"$select": "displayName,shoeSize"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"


def test_reposting_a_user_changes_what_graph_returns(client: TestClient[Any]) -> None:
    user = add_user(client)
    token = mint(client, user)["access_token"]
    add_user(client, oid=user["oid"], display_name="Ada King", mail="ada.king@contoso.example")
    profile = me(client, token).json()
    assert (profile["displayName"], profile["mail"]) == ("Ada King", "ada.king@contoso.example")


def test_me_without_token_is_invalid_authentication_token(client: TestClient[Any]) -> None:
    response = me(client, None)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert {"date", "request-id", "client-request-id"} <= error["innerError"].keys()


def test_me_with_expired_token_fails_lifetime_validation(client: TestClient[Any]) -> None:
    user = add_user(client)
    expired = mint(client, user, issued_at=int(time.time()) - 7200)["access_token"]
    response = me(client, expired)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "InvalidAuthenticationToken",
        "message": "Lifetime validation failed, the token is expired.",
        "innerError": response.json()["error"]["innerError"],
    }


def test_me_refuses_an_id_token_used_as_access_token(client: TestClient[Any]) -> None:
    id_token = mint(client, add_user(client))["id_token"]
    response = me(client, id_token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_photo_is_a_jpeg_at_full_and_fixed_sizes(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    for path in ("/v1.0/me/photo/$value", "/v1.0/me/photos/48/$value", "/v1.0/me/photos/648x648/$value"):
        response = me(client, token, path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "image/jpeg"
        assert response.content.startswith(b"\xff\xd8\xff")
        assert response.content.endswith(b"\xff\xd9")


def test_photo_at_a_size_graph_does_not_offer_is_not_found(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    assert me(client, token, "/v1.0/me/photos/50x50/$value").status_code == 404


def test_user_without_photo_gets_image_not_found(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client, photo=False))["access_token"]
    response = me(client, token, "/v1.0/me/photo/$value")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ImageNotFound"
    assert response.json()["error"]["message"] == "The photo wasn't found."


def test_throttled_call_says_retry_after_and_the_next_call_succeeds(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    queued = client.post("/_emulator/faults", json={"endpoint": "me", "status": 429, "retry_after": 2})
    assert queued.status_code == 201
    throttled = me(client, token)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "2"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    assert me(client, token).status_code == 200
    assert client.get("/_emulator/calls").json() == {"me": {"429": 1, "200": 1}}


def test_fault_repeats_the_given_number_of_times_and_can_be_cleared(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    client.post("/_emulator/faults", json={"endpoint": "photo", "status": 503, "times": 2})
    assert me(client, token, "/v1.0/me/photo/$value").status_code == 503
    assert me(client, token, "/v1.0/me/photo/$value").status_code == 503
    assert me(client, token, "/v1.0/me/photo/$value").status_code == 200
    client.post("/_emulator/faults", json={"endpoint": "photo", "status": 500, "times": 5})
    assert client.delete("/_emulator/faults").status_code == 204
    assert me(client, token, "/v1.0/me/photo/$value").status_code == 200
    assert client.get("/_emulator/calls").json() == {"photo": {"503": 2, "200": 2}}


def test_a_fault_scoped_to_one_user_spares_everyone_else_and_waits_for_that_user(client: TestClient[Any]) -> None:
    target, bystander = add_user(client), add_user(client)
    other_directory = add_user(client, tid=str(uuid.uuid4()), oid=target["oid"])
    client.post("/_emulator/faults", json={"endpoint": "me", "status": 503, "tid": TID, "oid": target["oid"]})

    assert me(client, mint(client, bystander)["access_token"]).status_code == 200
    assert me(client, mint(client, other_directory)["access_token"]).status_code == 200
    assert me(client, mint(client, target)["access_token"]).status_code == 503
    assert me(client, mint(client, target)["access_token"]).status_code == 200

    client.post("/_emulator/faults", json={"endpoint": "me", "status": 503, "tid": TID, "times": 9})
    client.post("/_emulator/faults", json={"endpoint": "me", "status": 429, "tid": other_directory["tid"]})
    assert client.delete("/_emulator/faults", params={"tid": TID}).status_code == 204
    assert me(client, mint(client, bystander)["access_token"]).status_code == 200
    assert me(client, mint(client, other_directory)["access_token"]).status_code == 429


def test_slow_fault_delays_a_successful_answer(client: TestClient[Any]) -> None:
    token = mint(client, add_user(client))["access_token"]
    client.post("/_emulator/faults", json={"endpoint": "me", "status": 200, "delay_seconds": 0.3})
    started = time.monotonic()
    assert me(client, token).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_fault_for_an_unknown_endpoint_is_refused(client: TestClient[Any]) -> None:
    response = client.post("/_emulator/faults", json={"endpoint": "calendar", "status": 429})
    assert response.status_code == 400


def test_rotation_signs_new_tokens_with_a_new_kid_and_keeps_the_old_key_published(
    client: TestClient[Any],
) -> None:
    user = add_user(client)
    old_token = mint(client, user)["id_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    rotated = client.post("/_emulator/keys/rotate")
    assert rotated.status_code == 200
    new_token = mint(client, user)["id_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.json()["kid"] != old_kid
    published = {key["kid"] for key in client.get(f"/{TID}/discovery/v2.0/keys").json()["keys"]}
    assert {old_kid, rotated.json()["kid"]} <= published
    verify_with_published_keys(client, old_token, TID, "2.0")
    verify_with_published_keys(client, new_token, TID, "2.0")


def test_rotation_with_drop_old_unpublishes_the_previous_keys(client: TestClient[Any]) -> None:
    old_kid = jwt.get_unverified_header(mint(client, add_user(client))["id_token"])["kid"]
    new_kid = client.post("/_emulator/keys/rotate", json={"drop_old": True}).json()["kid"]
    rsa_kids = [key["kid"] for key in client.get(f"/{TID}/discovery/v2.0/keys").json()["keys"] if key["kty"] == "RSA"]
    assert rsa_kids == [new_kid]
    assert old_kid not in rsa_kids


def test_discovery_hits_are_counted_per_tenant(client: TestClient[Any]) -> None:
    client.get(f"/{TID}/v2.0/.well-known/openid-configuration")
    client.get(f"/{TID}/discovery/v2.0/keys")
    client.get(f"/{TID}/discovery/v2.0/keys")
    client.get("/common/discovery/keys")
    assert client.get("/_emulator/discovery-hits").json() == {
        TID: {"openid_configuration": 1, "keys": 2},
        "common": {"keys_v1": 1},
    }
    assert client.delete("/_emulator/discovery-hits").status_code == 204
    assert client.get("/_emulator/discovery-hits").json() == {}


def test_reset_forgets_users_but_keeps_keys(client: TestClient[Any]) -> None:
    user = add_user(client)
    kids_before = client.get("/_emulator/keys").json()
    assert client.post("/_emulator/reset").status_code == 204
    response = client.post("/_emulator/tokens", json={"tid": TID, "oid": user["oid"], "client_id": CLIENT_ID})
    assert response.status_code == 404
    assert client.get("/_emulator/keys").json() == kids_before
