"""Every way a sign-in can fail, as the person sees it: a plain sentence, what to tell their IT admin, and
a way to try again. Errors Microsoft redirects back are explained at once; errors Microsoft shows only on
its own page (its Cross-Origin-Opener-Policy hides them from the login page) are explained once the
Microsoft window gives no answer, from the words or the AADSTS code the person saw."""

from playwright.async_api import Page, expect

from tests.e2e.login.conftest import Visit, register_organisation
from tests.e2e.login.people import (
    consent,
    open_microsoft_window,
    pick_account,
    signed_in_as,
    type_account,
    until_microsoft_finds_the_app,
)
from tests.support.browser import screenshot
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess


async def _problem(page: Page) -> str:
    problem = page.locator("#problem")
    await expect(problem).to_be_visible(timeout=20_000)
    assert await problem.get_attribute("role") == "alert"
    return await problem.inner_text()


async def test_declining_consent_says_which_four_things_kutamo_reads_and_offers_to_try_again(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft)
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    window = await open_microsoft_window(page)
    await pick_account(window, organisation.person("adele"))
    await consent(window, accept=False)

    text = await _problem(page)
    for shared in ("full name", "email", "job title", "picture"):
        assert shared in text
    await expect(page.get_by_role("button", name="Try again")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_enabled()
    await screenshot(page, "login-consent-declined")


async def test_closing_the_microsoft_window_says_sign_in_was_cancelled_and_the_button_is_ready_again(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft)
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    window = await open_microsoft_window(page)
    await window.close()

    text = await _problem(page)
    assert "Sign-in was cancelled" in text
    await expect(page.locator("#no-answer")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_enabled()
    await screenshot(page, "login-cancelled")


async def test_an_app_registered_moments_ago_gets_wait_and_retry_guidance_then_signs_in_once_propagated(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    delay = 12
    organisation = await register_organisation(identity, microsoft, propagation_delay_seconds=delay)
    adele = organisation.person("adele")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")

    window = await open_microsoft_window(page)
    seen = window.locator("#error-message")
    await expect(seen).to_contain_text("AADSTS700016")
    await expect(seen).to_contain_text(organisation.tenant.application_id)
    await screenshot(window, "login-microsoft-700016")
    await window.close()

    await expect(page.locator("#no-answer")).to_be_visible(timeout=20_000)
    await expect(page.locator("#no-answer")).to_contain_text("was not found in the directory")
    await page.get_by_label("Or type the code Microsoft showed").fill("AADSTS700016")
    await page.get_by_role("button", name="Explain this code").click()
    await expect(page.locator("#problem-detail")).to_contain_text("wait 5 to 20 minutes and try again")
    await expect(page.locator("#admin-hint")).to_contain_text("can take up to about 20 minutes")
    await screenshot(page, "login-700016-guidance")

    await until_microsoft_finds_the_app(microsoft, organisation.tenant.application_id)
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Try again").click()
    window = await opened.value
    await pick_account(window, adele)
    await consent(window)
    await signed_in_as(page, adele)


async def test_a_person_of_another_directory_is_told_to_use_their_account_of_this_organisation(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft)
    other = await register_organisation(identity, microsoft, name="Northwind")
    stranger = other.person("adele")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")

    window = await open_microsoft_window(page)
    await type_account(window, stranger["user_principal_name"])
    await expect(window.locator("#error-message")).to_contain_text("AADSTS50020")
    await window.close()
    await expect(page.locator("#no-answer")).to_contain_text("does not exist in tenant", timeout=20_000)
    await page.get_by_label("Or type the code Microsoft showed").fill("50020")
    await page.get_by_role("button", name="Explain this code").click()
    await expect(page.locator("#problem-detail")).to_contain_text("Sign in with your work account of this organisation")


async def test_a_refusal_from_kutamo_shows_its_sentence_and_the_hint_for_the_it_admin(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft, pending=True)
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    await expect(page.locator("#pending")).to_be_visible()
    window = await open_microsoft_window(page)
    await pick_account(window, organisation.person("adele"))
    await consent(window)

    text = await _problem(page)
    assert "Kutamo could not sign you in" in text
    await expect(page.locator("#admin")).to_be_visible()
    assert "verification" in (await page.locator("#admin-hint").inner_text()).lower()
    assert "401" not in text
    assert "403" not in text
    await screenshot(page, "login-refused-by-kutamo")


async def test_a_redirect_uri_registered_as_web_is_explained_for_the_pkce_flow_with_the_uri_to_register(
    visit: Visit, identity: ServiceProcess, microsoft: Emulator
) -> None:
    organisation = await register_organisation(identity, microsoft, flow="pkce", redirect_type="web")
    page = await visit.open(f"{identity.url}/login/{organisation.tenant.login_code}")
    window = await open_microsoft_window(page)
    await pick_account(window, organisation.person("adele"))
    await consent(window)

    await _problem(page)
    hint = await page.locator("#admin-hint").inner_text()
    assert "Single-page application" in hint
    assert f"{identity.url}/login/callback" in hint


async def test_an_unknown_login_code_is_a_page_saying_so_with_status_404(
    visit: Visit, identity: ServiceProcess
) -> None:
    page = await visit.context.new_page()
    response = await page.goto(f"{identity.url}/login/nosuchorganisation")
    assert response is not None
    assert response.status == 404
    await expect(page.locator(".problem")).to_contain_text("No organisation uses the login code “nosuchorganisation”")
    await screenshot(page, "login-unknown-code")

    await page.goto(f"{identity.url}/login")
    await page.get_by_label("Your organisation's login code").fill("stillunknown")
    await page.keyboard.press("Enter")
    await expect(page.locator(".problem")).to_contain_text("stillunknown")
