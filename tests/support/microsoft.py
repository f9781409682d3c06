"""A thin client of the emulator's /_emulator control API: people in directories, tokens for them."""

import uuid
from typing import Any

import httpx


class Emulator:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def add_user(
        self,
        tid: str,
        *,
        name: str,
        mail: str | None,
        title: str | None,
        photo: bool = True,
        oid: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "tid": tid,
            "oid": oid or str(uuid.uuid4()),
            "display_name": name,
            "mail": mail,
            "user_principal_name": (mail or f"{uuid.uuid4().hex[:8]}@example.onmicrosoft.com"),
            "job_title": title,
            "photo": photo,
        }
        response = await self.http.post(f"{self.url}/_emulator/users", json=body)
        response.raise_for_status()
        user: dict[str, Any] = response.json()
        return user

    async def tokens(self, tid: str, oid: str, client_id: str, **options: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.url}/_emulator/tokens", json={"tid": tid, "oid": oid, "client_id": client_id, **options}
        )
        response.raise_for_status()
        tokens: dict[str, Any] = response.json()
        return tokens

    async def photo(self, access_token: str) -> bytes:
        response = await self.http.get(
            f"{self.url}/v1.0/me/photo/$value", headers={"Authorization": f"Bearer {access_token}"}
        )
        response.raise_for_status()
        return response.content
