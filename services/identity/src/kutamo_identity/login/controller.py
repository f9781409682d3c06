"""Routes of the pages for people; HTML only, the sign-in itself goes through the JSON API."""

import hashlib
from importlib import resources
from typing import Annotated
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Redirect

from kutamo_identity.config import Config
from kutamo_identity.errors import NotFound
from kutamo_identity.login import pages
from kutamo_identity.login.headers import page_headers
from kutamo_identity.login.urls import ASSETS_PATH, CALLBACK_PATH, callback_url
from kutamo_identity.ratelimit import rate_limit
from kutamo_identity.signin.service import SignInService

__all__ = ["AssetsController", "LoginPagesController"]

_HTML = "text/html"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _load_assets() -> dict[str, tuple[bytes, str, str]]:
    """Every asset once, at import: name -> (bytes, content type, ETag)."""
    found = {}
    for entry in resources.files("kutamo_identity.login").joinpath("assets").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if entry.is_file() and suffix in _TYPES:
            data = entry.read_bytes()
            found[entry.name] = (data, _TYPES[suffix], '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    return found


_ASSETS = _load_assets()


def _html(body: str, status: int = 200, **sources: tuple[str, ...]) -> Response[str]:
    return Response(body, status_code=status, media_type=_HTML, headers=page_headers(**sources))


class LoginPagesController(Controller):
    """Pages for people, public: each client address is rate limited (assets are not)."""

    include_in_schema = False
    before_request = staticmethod(rate_limit)  # a hook, not a method (Litestar unbinds it too)

    @get("/login")
    async def choose(
        self, config: Config, code: Annotated[str | None, Parameter(max_length=200)] = None
    ) -> Response[str] | Redirect:
        if code is not None and code.strip():
            return Redirect(f"/login/{quote(code.strip(), safe='')}", status_code=303)
        return _html(pages.choose_page(example=f"{config.public_base_url}/login/contoso"))

    @get(CALLBACK_PATH)
    async def callback(self, config: Config) -> Response[str]:
        return _html(pages.callback_page(), connect=(config.azure_login_base_url,))

    @get("/login/{login_code:str}")
    async def login(
        self, login_code: Annotated[str, Parameter(max_length=200)], config: Config, signin_service: SignInService
    ) -> Response[str]:
        try:
            connection = await signin_service.connection_for_page(login_code)
        except NotFound:
            example = f"{config.public_base_url}/login/contoso"
            return _html(pages.choose_page(example=example, unknown_code=login_code), status=404)
        body = pages.login_page(
            connection,
            site=urlsplit(config.public_base_url).netloc,
            app_url=config.app_url,
            popup_timeout_seconds=config.login_popup_timeout_seconds,
            redirect_uri=callback_url(config.public_base_url),
        )
        return _html(body, connect=(config.azure_login_base_url,))

    @get("/setup")
    async def setup(self, config: Config) -> Response[str]:
        worker = (config.provisioning_base_url,) if config.provisioning_base_url else ()
        body = pages.setup_page(
            site=urlsplit(config.public_base_url).netloc,
            redirect_uri=callback_url(config.public_base_url),
            scim_url=config.public_base_url + "/scim/v2",
            popup_timeout_seconds=config.login_popup_timeout_seconds,
            users_api=config.provisioning_base_url,
        )
        return _html(body, connect=(config.azure_login_base_url, *worker), images=worker)

    @get("/app")
    async def app(self, config: Config) -> Response[str]:
        worker = (config.provisioning_base_url,) if config.provisioning_base_url else ()
        return _html(pages.app_page(users_api=config.provisioning_base_url), connect=worker, images=worker)


class AssetsController(Controller):
    path = ASSETS_PATH
    include_in_schema = False

    @get("/{name:str}")
    async def asset(self, name: str, request: Request[object, object, State]) -> Response[bytes]:
        if name not in _ASSETS:
            raise NotFound("asset_not_found", f"There is no page asset called {name!r}.")
        data, content_type, etag = _ASSETS[name]
        headers = {"Cache-Control": "no-cache", "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status_code=304, headers=headers)
        return Response(data, media_type=content_type, headers=headers)
