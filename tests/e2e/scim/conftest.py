"""SCIM fixtures: a tenant with a pinned directory, a SCIM token created through the admin API, and a
client that speaks to /scim/v2 as Entra's provisioning service does."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import OPERATOR_KEY
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant, create_tenant

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


class Scim:
    def __init__(self, http: httpx.AsyncClient, base: str, token: str) -> None:
        self.http = http
        self.base = base
        self.token = token

    async def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": SCIM_JSON, **kwargs.pop("headers", {})}
        return await self.http.request(method, self.base + path, json=body, headers=headers, **kwargs)

    async def find(self, user_name: str) -> list[dict[str, Any]]:
        response = await self.request("GET", "/Users", params={"filter": f'userName eq "{user_name}"'})
        assert response.status_code == 200, response.text
        resources: list[dict[str, Any]] = response.json()["Resources"]
        return resources

    async def create(self, body: dict[str, Any]) -> httpx.Response:
        return await self.request("POST", "/Users", body)

    async def patch(self, user_id: str, *operations: dict[str, Any]) -> httpx.Response:
        return await self.request("PATCH", f"/Users/{user_id}", {"schemas": [PATCH], "Operations": list(operations)})


def entra_user(oid: str | None = None, name: str = "Test User", title: str = "Engineer") -> dict[str, Any]:
    """A create request as Microsoft's SCIM documentation shows Entra sending it (externalId = objectId)."""
    oid = oid or str(uuid.uuid4())
    user_name = f"Test_User_{oid[:8]}@contoso.com"
    given, family = [*name.split(" ", 1), ""][:2]
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": oid,
        "userName": user_name,
        "active": True,
        "displayName": name,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": name, "familyName": family, "givenName": given},
        "title": title,
        "roles": [],
        ENTERPRISE: {"department": "R&D", "manager": {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a"}},
    }


async def create_token(http: httpx.AsyncClient, identity: ServiceProcess, tenant_id: str) -> dict[str, Any]:
    response = await http.post(
        f"{identity.url}/v1/tenants/{tenant_id}/scim-tokens",
        json={"name": "Entra provisioning"},
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="session")
def scim_tenant(identity: ServiceProcess) -> Tenant:
    return create_tenant(identity, name="Fabrikam (SCIM)")


@pytest.fixture(scope="session")
async def scim_token(http: httpx.AsyncClient, identity: ServiceProcess, scim_tenant: Tenant) -> dict[str, Any]:
    return await create_token(http, identity, scim_tenant.tenant_id)


@pytest.fixture(scope="session")
def scim(http: httpx.AsyncClient, scim_token: dict[str, Any]) -> Scim:
    return Scim(http, scim_token["tenant_url"], scim_token["token"])
