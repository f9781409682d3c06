"""A person opens their organisation's login page, presses "Sign in with Microsoft", signs in and consents
in Microsoft's window, and lands in Kutamo with their name, email, title and picture: in both of
Microsoft's browser flows, and by redirect when the browser blocks the popup."""

import re

import httpx
from playwright.async_api import expect

from tests.e2e.login.conftest import Visit, register_organisation
from tests.e2e.login.people import consent, open_microsoft_window, pick_account, signed_in_as
from tests.support.browser import screenshot
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import verification_link


async def _user_record(
    http: httpx.AsyncClient, provisioning: ServiceProcess, session: dict[str, str]
) -> dict[str, str]:
    response = await http.get(
        f"{provisioning.url}/v1/users/{session['user_id']}",
        headers={"Authorization": f"Bearer {session['session_token']}"},
    )
    assert response.status_code == 200, response.text
    record: dict[str, str] = response.json()
    return record


def _never_exposed(secret: str, visit: Visit, *services: ServiceProcess) -> None:
    for url in visit.requested:
        assert secret not in url, f"a request carried the session token: {url.split('?')[0]}"
    for service in services:
        assert secret not in service.log_path.read_text(errors="replace"), f"the session token is in {service.log_path}"


async def test_implicit_flow_in_a_popup_signs_the_person_in_with_their_profile_and_picture(
    visit: Visit, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator, http: httpx.AsyncClient
) -> None:
    organisation = await register_organisation(identity, microsoft, flow="implicit")
    adele = organisation.person("adele")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    await expect(page.locator("h1")).to_have_text("Sign in to Fabrikam Inc.")
    await screenshot(page, "login-page")

    window = await open_microsoft_window(page)
    await screenshot(window, "login-microsoft-pick-account")
    await pick_account(window, adele)
    await screenshot(window, "login-microsoft-consent")
    await consent(window)

    session = await signed_in_as(page, adele)
    await screenshot(page, "login-signed-in-app")
    record = await _user_record(http, provisioning, session)
    assert (record["name"], record["email"], record["title"]) == (
        adele["display_name"],
        adele["mail"],
        "Product Manager",
    )
    assert record["avatar_url"]
    _never_exposed(session["session_token"], visit, identity, provisioning)


async def test_pkce_flow_in_a_popup_signs_the_person_in_with_their_profile_and_picture(
    visit: Visit, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator, http: httpx.AsyncClient
) -> None:
    organisation = await register_organisation(identity, microsoft, flow="pkce")
    adele = organisation.person("adele")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")

    window = await open_microsoft_window(page)
    assert "response_type=code" in window.url
    assert "code_challenge_method=S256" in window.url
    await pick_account(window, adele)
    await consent(window)

    session = await signed_in_as(page, adele)
    record = await _user_record(http, provisioning, session)
    assert (record["name"], record["title"]) == (adele["display_name"], "Product Manager")
    assert record["avatar_url"]
    assert any(re.search(r"/oauth2/v2\.0/token$", url) for url in visit.requested), "the code was not redeemed"
    _never_exposed(session["session_token"], visit, identity, provisioning)


async def test_a_blocked_popup_shows_how_to_allow_it_and_continue_in_this_window_signs_in_by_redirect(
    visit: Visit, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft, flow="pkce")
    adele = organisation.person("adele")
    await visit.context.add_init_script("window.open = () => null;")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")

    await page.get_by_role("button", name="Sign in with Microsoft").click()
    blocked = page.locator("#popup-blocked")
    await expect(blocked).to_be_visible()
    await expect(blocked).to_contain_text(identity.url.removeprefix("http://"))
    await expect(blocked.locator('[data-browser="chrome"]')).to_be_visible()
    await expect(blocked.locator('[data-browser="firefox"]')).to_be_hidden()
    await screenshot(page, "login-popup-blocked")

    await page.get_by_role("button", name="Continue in this window").click()
    await page.wait_for_url(re.compile(r"/oauth2/v2\.0/authorize"))
    await pick_account(page, adele)
    await consent(page)
    session = await signed_in_as(page, adele)
    _never_exposed(session["session_token"], visit, identity, provisioning)


async def test_the_it_admins_verification_link_pins_their_directory_and_then_lets_their_people_in(
    visit: Visit, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator, http: httpx.AsyncClient
) -> None:
    organisation = await register_organisation(identity, microsoft, pending=True)
    admin = organisation.person("adele")
    link = verification_link(identity, organisation.tenant.login_code)
    page = await visit.open(link)
    assert "verification_code" not in page.url, "the single-use code stays in the address bar"

    window = await open_microsoft_window(page)
    await pick_account(window, admin)
    await consent(window)
    await signed_in_as(page, admin)

    configuration = (await http.get(f"{identity.url}/v1/login/{organisation.tenant.login_code}")).json()
    assert configuration["status"] == "active"
    assert configuration["authority"].endswith(organisation.tenant.directory_id)
