"""A client of the tenant admin API, as Kutamo's backend calls it on an admin's behalf."""

import uuid
from typing import Any

import httpx

from tests.support.processes import ServiceProcess


class Admin:
    def __init__(self, http: httpx.AsyncClient, identity: ServiceProcess, key: str) -> None:
        self.http = http
        self.base = f"{identity.url}/v1/tenants"
        self.key = key

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def call(self, method: str, path: str = "", *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, self.base + path, headers=self.headers(key), **kwargs)

    async def new_tenant(self, name: str = "Contoso") -> str:
        response = await self.call("POST", "", json={"display_name": name})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def new_key(self, tenant_id: str) -> str:
        response = await self.call("POST", f"/{tenant_id}/api-keys", json={"name": "IT admin"})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    async def put_connection(self, tenant_id: str, key: str | None = None, **fields: Any) -> httpx.Response:
        body = {"application_id": str(uuid.uuid4()), "login_code": unique_code(), **fields}
        return await self.call("PUT", f"/{tenant_id}/azure-ad", key=key, json=body)


def unique_code(prefix: str = "co") -> str:
    return prefix + uuid.uuid4().hex[:10]
