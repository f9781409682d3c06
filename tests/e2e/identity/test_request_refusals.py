"""Bad input to the sign-in path gets a problem+json answer with a stable code, never a 500."""

from typing import Any

import httpx
import pytest

from tests.conftest import FRONTEND_ORIGIN
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


async def test_a_method_a_route_does_not_take_is_a_405_naming_method_and_path(
    http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    body = assert_problem(await http.get(f"{identity.url}/v1/sign-ins"), 405, "method_not_allowed")
    assert "GET" in body["detail"]
    assert "/v1/sign-ins" in body["detail"]


async def test_an_unknown_login_code_is_a_404_that_points_at_the_link(
    http: httpx.AsyncClient, identity: ServiceProcess
) -> None:
    response = await http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": "nosuchco", "id_token": "x.y.z", "nonce": "n"}
    )
    assert_problem(response, 404, "unknown_login_code")

    page = await http.get(f"{identity.url}/v1/login/nosuchco")
    assert_problem(page, 404, "unknown_login_code")


async def test_the_login_page_answers_browsers_of_the_configured_frontend_origin_only(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant
) -> None:
    url = f"{identity.url}/v1/login/{tenant.login_code}"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}

    ours = await http.options(url, headers={"Origin": FRONTEND_ORIGIN, **preflight})
    theirs = await http.options(url, headers={"Origin": "https://evil.example", **preflight})
    page = await http.get(url, headers={"Origin": FRONTEND_ORIGIN})

    assert ours.headers.get("access-control-allow-origin") == FRONTEND_ORIGIN
    assert theirs.headers.get("access-control-allow-origin") != "https://evil.example"
    assert page.headers.get("access-control-allow-origin") == FRONTEND_ORIGIN


@pytest.mark.parametrize("code", ["ab\x00cd", "\u00af\u9b56", "x" * 64, "a b"])
async def test_a_login_code_that_cannot_exist_is_unknown_without_touching_the_database(
    http: httpx.AsyncClient, identity: ServiceProcess, code: str
) -> None:
    response = await http.post(
        f"{identity.url}/v1/sign-ins", json={"login_code": code, "id_token": "a.b.c", "nonce": "n"}
    )

    assert_problem(response, 404, "unknown_login_code")


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"login_code": "contoso", "id_token": "a.b.c", "nonce": "n", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    ],
    ids=["deep-array", "deep-object", "deep-unknown-field"],
)
@pytest.mark.parametrize("path", ["/v1/sign-ins", "/v1/login/contoso/microsoft-errors"])
async def test_a_body_nested_thousands_of_levels_deep_is_a_400_not_a_500(
    http: httpx.AsyncClient, identity: ServiceProcess, body: bytes, path: str
) -> None:
    response = await http.post(f"{identity.url}{path}", content=body, headers={"content-type": "application/json"})

    assert_problem(response, 400, "malformed_request")
