"""A client of the setup page's API as the page's script uses it: exchange the link from the fragment
for the session cookie, then call /setup/api/* with the cookie and, on changes, the CSRF header."""

from http.cookiejar import CookieJar, DefaultCookiePolicy
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.processes import ServiceProcess


def secret_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("link="), url
    return fragment.removeprefix("link=")


def cookieless_client() -> httpx.AsyncClient:
    """A client that keeps no cookies: each test says exactly which cookie it sends."""
    return httpx.AsyncClient(timeout=30, cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])))


class SetupPage:
    def __init__(self, http: httpx.AsyncClient, identity: ServiceProcess) -> None:
        self.http = http
        self.base = identity.url
        self.cookie: str | None = None
        self.csrf: str | None = None

    async def exchange(self, secret: str, **headers: str) -> httpx.Response:
        return await self.http.post(f"{self.base}/setup/session", json={"link": secret}, headers=headers)

    async def open(self, url: str) -> dict[str, Any]:
        """Open a setup link: exchange its secret for the cookie, then read the state (and CSRF token)."""
        response = await self.exchange(secret_of(url))
        assert response.status_code == 204, response.text
        self.cookie = set_cookie(response)["kutamo_setup"].value
        state = await self.call("GET", "/state")
        assert state.status_code == 200, state.text
        self.csrf = state.json()["csrf_token"]
        body: dict[str, Any] = state.json()
        return body

    async def call(
        self,
        method: str,
        path: str,
        *,
        csrf: str | None = "session",
        cookie: str | None = "session",
        origin: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A request as the page sends it; `csrf`/`cookie` override the session's, None leaves them out."""
        headers: dict[str, str] = {}
        sent_cookie = self.cookie if cookie == "session" else cookie
        if sent_cookie is not None:
            headers["Cookie"] = f"kutamo_setup={sent_cookie}"
        sent_csrf = self.csrf if csrf == "session" else csrf
        if sent_csrf is not None and method != "GET":
            headers["X-Kutamo-CSRF"] = sent_csrf
        if origin is not None:
            headers["Origin"] = origin
        return await self.http.request(method, f"{self.base}/setup/api{path}", headers=headers, **kwargs)


def set_cookie(response: httpx.Response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie
