"""Bad input to the sign-in path gets a problem+json answer with a stable code, never a 500."""

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert len(body["detail"]) > 20  # a sentence a person can act on
    return body


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b"[]",
        b'{"login_code": "contoso"}',
        b'{"login_code": 5, "id_token": "x"}',
        b'{"login_code": "contoso", "id_token": "x", "surprise": true}',
    ],
    ids=["not-json", "not-an-object", "no-id-token", "wrong-type", "unknown-field"],
)
async def test_a_malformed_body_is_a_400_that_says_what_is_wrong(
    http: httpx.AsyncClient, identity: ServiceProcess, body: bytes
) -> None:
    response = await http.post(
        f"{identity.url}/v1/sign-ins", content=body, headers={"content-type": "application/json"}
    )

    assert_problem(response, 400, "malformed_request")


async def test_an_unknown_login_code_is_a_404_that_points_at_the_link(
    http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    response = await http.post(f"{identity.url}/v1/sign-ins", json={"login_code": "nosuchco", "id_token": "x.y.z"})
    assert_problem(response, 404, "unknown_login_code")

    page = await http.get(f"{identity.url}/v1/login/nosuchco")
    assert_problem(page, 404, "unknown_login_code")


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "x" * 20000])
async def test_a_token_that_is_not_a_jwt_is_refused_as_malformed(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, garbage: str
) -> None:
    response = await http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": tenant.login_code, "id_token": garbage}
    )

    assert response.status_code in (400, 401)
    assert response.json()["code"] in ("token_malformed", "malformed_request")


async def _refusal(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    *,
    directory: str | None = None,
    client_id: str | None = None,
    **options: Any,
) -> httpx.Response:
    tid = directory or tenant.directory_id
    person = await microsoft.add_user(tid, name="Eve", mail="eve@example.com", title=None)
    tokens = await microsoft.tokens(tid, person["oid"], client_id or tenant.application_id, **options)
    return await http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": tenant.login_code, "id_token": tokens["id_token"]}
    )


async def test_a_token_from_another_directory_is_refused_even_with_the_right_audience(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    response = await _refusal(http, identity, tenant, microsoft, directory=str(uuid.uuid4()))
    assert_problem(response, 403, "directory_not_allowed")


async def test_a_token_for_another_application_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    response = await _refusal(http, identity, tenant, microsoft, client_id=str(uuid.uuid4()))
    assert_problem(response, 401, "token_audience_mismatch")


async def test_an_expired_token_is_refused_with_sign_in_again(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    response = await _refusal(
        http, identity, tenant, microsoft, issued_at=int(time.time()) - 7200, lifetime_seconds=3600
    )
    body = assert_problem(response, 401, "token_expired")
    assert "sign in again" in body["detail"]


async def test_a_token_with_a_forged_signature_is_refused(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator
) -> None:
    person = await microsoft.add_user(tenant.directory_id, name="Mallory", mail=None, title=None)
    tokens = await microsoft.tokens(tenant.directory_id, person["oid"], tenant.application_id)
    header, payload, signature = tokens["id_token"].split(".")
    forged = f"{header}.{payload}.{signature[:-6]}AAAAAA"

    response = await http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": tenant.login_code, "id_token": forged}
    )

    assert_problem(response, 401, "token_signature_invalid")
