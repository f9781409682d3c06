"""Sign in the way the frontend does: fetch the login page (for its nonce), let Microsoft sign the
person in with that nonce, post the tokens back."""

from typing import Any

import httpx

from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant


async def login_page(http: httpx.AsyncClient, identity: ServiceProcess, login_code: str) -> dict[str, Any]:
    response = await http.get(f"{identity.url}/v1/login/{login_code}")
    response.raise_for_status()
    page: dict[str, Any] = response.json()
    return page


async def sign_in(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    microsoft: Emulator,
    tenant: Tenant,
    oid: str,
    *,
    directory: str | None = None,
    client_id: str | None = None,
    body: dict[str, Any] | None = None,
    **mint: Any,
) -> httpx.Response:
    """One sign-in of person `oid`; `directory`/`client_id`/`mint` shape the Microsoft token, `body` the request."""
    page = await login_page(http, identity, tenant.login_code)
    tokens = await microsoft.tokens(
        directory or tenant.directory_id, oid, client_id or tenant.application_id, nonce=page["nonce"], **mint
    )
    request = {
        "login_code": tenant.login_code,
        "id_token": tokens["id_token"],
        "access_token": tokens["access_token"],
        "nonce": page["nonce"],
        **(body or {}),
    }
    return await http.post(f"{identity.url}/v1/sign-ins", json={k: v for k, v in request.items() if v is not None})
