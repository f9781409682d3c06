"""A thin client of the emulator's /_emulator control API: people in directories, tokens for them."""

import uuid
from collections.abc import Sequence
from typing import Any, Literal

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

    async def register_app(
        self,
        client_id: str,
        home_tid: str,
        *,
        spa_redirect_uris: Sequence[str] = (),
        web_redirect_uris: Sequence[str] = (),
        display_name: str = "Kutamo",
        sign_in_audience: Literal["single", "multi"] = "single",
        implicit_id_tokens: bool = True,
        implicit_access_tokens: bool = True,
        propagation_delay_seconds: int = 0,
    ) -> dict[str, Any]:
        """Register (or replace) an app for the emulator's interactive sign-in; see POST /_emulator/applications."""
        redirect_uris = [{"uri": uri, "type": "spa"} for uri in spa_redirect_uris]
        redirect_uris += [{"uri": uri, "type": "web"} for uri in web_redirect_uris]
        body = {
            "client_id": client_id,
            "home_tid": home_tid,
            "display_name": display_name,
            "sign_in_audience": sign_in_audience,
            "redirect_uris": redirect_uris,
            "implicit_id_tokens": implicit_id_tokens,
            "implicit_access_tokens": implicit_access_tokens,
            "propagation_delay_seconds": propagation_delay_seconds,
        }
        response = await self.http.post(f"{self.url}/_emulator/applications", json=body)
        response.raise_for_status()
        registration: dict[str, Any] = response.json()
        return registration
