"""What a person does in the browser: press the button, pick their account in Microsoft's window, consent."""

import asyncio
import re
from typing import Any

from playwright.async_api import Page, expect

from tests.support.microsoft import Emulator

APP_PAGE = re.compile(r"/app$")


async def open_microsoft_window(page: Page) -> Page:
    """Press "Sign in with Microsoft" and return the popup once Microsoft's page is in it."""
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Sign in with Microsoft").click()
    popup = await opened.value
    await popup.wait_for_url(re.compile(r"/oauth2/v2\.0/authorize"))
    return popup


async def pick_account(window: Page, person: dict[str, Any]) -> None:
    await window.locator(f'button.account[data-test-id="{person["user_principal_name"]}"]').click()


async def type_account(window: Page, upn: str) -> None:
    await window.fill("#i0116", upn)
    await window.click("#idSIButton9")


async def consent(window: Page, *, accept: bool = True) -> None:
    await expect(window.locator("#title")).to_have_text("Permissions requested")
    await window.click("#idSIButton9" if accept else "#idBtn_Back")


async def signed_in_as(page: Page, person: dict[str, Any]) -> dict[str, Any]:
    """Wait for the app page to show the person as provisioned; return the session it holds."""
    await page.wait_for_url(APP_PAGE, timeout=30_000)
    await expect(page.locator("#title")).to_have_text(person["job_title"], timeout=30_000)
    await expect(page.locator("#name")).to_have_text(person["display_name"])
    await expect(page.locator("#email")).to_have_text(person["mail"])
    avatar = page.locator("#avatar")
    await expect(avatar).to_be_visible()
    await page.wait_for_function("() => document.getElementById('avatar').naturalWidth > 0")
    session: dict[str, Any] = await page.evaluate("() => JSON.parse(sessionStorage.getItem('kutamo.session'))")
    return session


async def until_microsoft_finds_the_app(microsoft: Emulator, client_id: str, within: float = 60.0) -> None:
    """Wait out a registration's propagation delay, as an admin told to wait a few minutes would."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        answer = await microsoft.http.get(f"{microsoft.url}/_emulator/applications/{client_id}")
        if answer.status_code == 200 and answer.json()["propagated"]:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the emulator still does not find application {client_id}")
