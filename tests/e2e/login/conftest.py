"""The login page in headless Chromium: an organisation whose app is registered in the emulated Azure AD
(redirect URI of the right type for its flow), its people, and a browser context that records every
URL it requests."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.support.browser import chromium
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant, create_tenant


@dataclass
class Organisation:
    tenant: Tenant
    people: dict[str, dict[str, Any]] = field(default_factory=dict)

    def person(self, key: str) -> dict[str, Any]:
        return self.people[key]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@dataclass
class Visit:
    """A browser context of its own and every URL it asked for (main page and popups alike)."""

    context: BrowserContext
    requested: list[str] = field(default_factory=list)

    async def open(self, url: str) -> Page:
        page = await self.context.new_page()
        await page.goto(url)
        return page


@pytest.fixture
async def visit(browser: Browser) -> AsyncIterator[Visit]:
    context = await browser.new_context(viewport={"width": 1000, "height": 820}, locale="en-GB")
    recorded = Visit(context)
    context.on("request", lambda request: recorded.requested.append(request.url))
    yield recorded
    await context.close()


async def register_organisation(
    identity: ServiceProcess,
    microsoft: Emulator,
    *,
    flow: str = "implicit",
    name: str = "Fabrikam Inc.",
    note: str | None = "Use your Fabrikam work account.",
    redirect_type: str | None = None,
    propagation_delay_seconds: int = 0,
    pending: bool = False,
) -> Organisation:
    """An app registered in a new Azure directory as its IT admin would, and the Kutamo tenant using it."""
    directory = str(uuid.uuid4())
    tenant = create_tenant(
        identity, name=name, note=note, directory_id=None if pending else directory, sign_in_flow=flow
    )
    await microsoft.register_app(
        client_id=tenant.application_id,
        home_tid=directory,
        display_name="Kutamo",
        sign_in_audience="multi" if pending else "single",
        **{f"{redirect_type or _platform(flow)}_redirect_uris": [f"{identity.url}/login/callback"]},
        propagation_delay_seconds=propagation_delay_seconds,
    )
    organisation = Organisation(tenant=tenant if not pending else _with_directory(tenant, directory))
    organisation.people["adele"] = await microsoft.add_user(
        directory, name="Adele Vance", mail=f"adele.{uuid.uuid4().hex[:6]}@fabrikam.example", title="Product Manager"
    )
    return organisation


def _platform(flow: str) -> str:
    # The help page's implicit flow registers a Web redirect URI; PKCE needs a Single-page application one.
    return "spa" if flow == "pkce" else "web"


def _with_directory(tenant: Tenant, directory: str) -> Tenant:
    return Tenant(
        tenant_id=tenant.tenant_id,
        login_code=tenant.login_code,
        application_id=tenant.application_id,
        directory_id=directory,
    )
