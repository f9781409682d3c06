"""The login pages as everyone must be able to use them: by keyboard alone, announced to screen readers,
without accessibility violations (axe-core), with the organisation's note shown exactly as typed, and
under a Content-Security-Policy that allows no inline script."""

import re

import httpx
from playwright.async_api import expect

from tests.e2e.login.conftest import Visit, register_organisation
from tests.e2e.login.people import consent, pick_account, signed_in_as
from tests.support.browser import accessibility_violations
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess

NOTE = 'Sign in with your Fabrikam account.\n<script>alert("owned")</script> & <b>not bold</b>'


async def test_the_note_to_users_is_shown_exactly_as_the_admin_typed_it_never_as_html(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft, name="Fabrikam <i>Inc</i>", note=NOTE)
    dialogs: list[str] = []
    page = await visit.context.new_page()
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{identity.url}/login/{organisation.tenant.login_code}")

    assert await page.locator("#note").inner_text() == NOTE
    assert await page.locator("#organisation").inner_text() == "Fabrikam <i>Inc</i>"
    assert await page.locator("#note b").count() == 0
    assert dialogs == []


async def test_a_keyboard_alone_reaches_the_button_and_signs_in(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator, provisioning: ServiceProcess
) -> None:
    organisation = await register_organisation(identity, microsoft)
    adele = organisation.person("adele")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    await expect(page.locator("#sign-in")).to_be_enabled()

    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.id") == "sign-in"
    async with page.expect_popup() as opened:
        await page.keyboard.press("Enter")
    window = await opened.value
    await pick_account(window, adele)
    await consent(window)
    await signed_in_as(page, adele)


async def test_status_and_errors_are_announced(visit: Visit, identity: ServiceProcess, microsoft: Emulator) -> None:
    organisation = await register_organisation(identity, microsoft)
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    assert await page.locator("#status").get_attribute("aria-live") == "polite"
    assert await page.locator("#problem").get_attribute("role") == "alert"
    await visit.context.add_init_script("window.open = () => null;")
    await page.reload()
    await page.get_by_role("button", name="Sign in with Microsoft").click()
    await expect(page.locator("#status")).to_have_text("Your browser blocked the Microsoft sign-in window.")
    assert await page.evaluate("() => document.activeElement.id") == "popup-blocked"


async def test_no_serious_accessibility_violations_in_any_state_of_the_pages(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft, note=NOTE)
    login = f"{identity.url}/login/{organisation.tenant.login_code}"
    page = await visit.open(login)
    found = {"login page": await accessibility_violations(page)}

    await page.evaluate("() => { for (const s of document.querySelectorAll('section')) s.hidden = false; }")
    found["every message shown"] = await accessibility_violations(page)
    for name, url in {
        "code form": f"{identity.url}/login",
        "unknown code": f"{identity.url}/login/nosuchcode",
        "callback": f"{identity.url}/login/callback",
        "app page": f"{identity.url}/app",
    }.items():
        await page.goto(url)
        found[name] = await accessibility_violations(page)
    assert {name: v for name, v in found.items() if v} == {}


async def test_login_and_callback_pages_allow_no_inline_script_and_are_not_cached(
    identity: ServiceProcess, microsoft: Emulator, http: httpx.AsyncClient
) -> None:
    organisation = await register_organisation(identity, microsoft)
    for path in (f"/login/{organisation.tenant.login_code}", "/login/callback", "/login", "/app"):
        response = await http.get(identity.url + path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy, path
        assert "frame-ancestors 'none'" in policy
        assert response.headers["cache-control"] == "no-store"
        assert "cross-origin-opener-policy" not in response.headers
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) is None, f"inline script on {path}"
        assert ' style="' not in response.text
        assert "<style" not in response.text
