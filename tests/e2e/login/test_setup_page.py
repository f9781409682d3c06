"""The IT admin's setup, as they live it in the browser: from the setup link an operator sent them, through
registering the app (values to copy), telling Kutamo about it (errors at their fields), the test sign-in
that pins their directory (including Microsoft's "not found yet" right after registering), to sharing the
login page, and one of their people signing in there."""

import json
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import OPERATOR_KEY
from tests.e2e.identity.admin import Admin, unique_code
from tests.e2e.login.conftest import Visit
from tests.e2e.login.people import (
    consent,
    open_microsoft_window,
    pick_account,
    signed_in_as,
    until_microsoft_finds_the_app,
)
from tests.support.browser import accessibility_violations, screenshot
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess


@pytest.fixture
def operator(http: httpx.AsyncClient, identity: ServiceProcess) -> Admin:
    return Admin(http, identity, OPERATOR_KEY)


async def _setup_link(operator: Admin, tenant_id: str) -> dict[str, Any]:
    response = await operator.call("POST", f"/{tenant_id}/setup-links", json={"valid_days": 7})
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    return link


async def _no_violations(page: Page, where: str) -> None:
    assert await accessibility_violations(page) == [], where


async def _step(page: Page, name: str) -> None:
    await expect(page.locator(f"#step-{name}")).to_be_visible()
    assert await page.locator(f'[data-step="{name}"]').get_attribute("aria-current") == "step"


async def test_an_it_admin_sets_up_sign_in_from_the_link_to_their_people_signing_in(
    visit: Visit,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    microsoft: Emulator,
    operator: Admin,
) -> None:
    tenant_id = await operator.new_tenant("Woodgrove Bank")
    taken = unique_code("taken")
    assert (await operator.put_connection(await operator.new_tenant("Other"), login_code=taken)).status_code == 200
    link = await _setup_link(operator, tenant_id)
    directory, application = str(uuid.uuid4()), str(uuid.uuid4())
    admin = await microsoft.add_user(
        directory, name="Nestor Wilke", mail=f"nestor.{uuid.uuid4().hex[:6]}@woodgrove.example", title="IT Director"
    )
    delay = 15
    await microsoft.register_app(
        application, directory, spa_redirect_uris=[f"{identity.url}/login/callback"], propagation_delay_seconds=delay
    )
    await visit.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=identity.url)

    page = await visit.open(link["url"])
    await expect(page.locator("h1")).to_have_text("Set up Microsoft sign-in for Woodgrove Bank")
    assert "#" not in page.url, "the link's secret stays in the address bar"
    await _step(page, "register")
    await expect(page.locator("#value-platform")).to_have_text("Single-page application (SPA)")
    await page.get_by_role("button", name="Copy the redirect URI").click()
    assert await page.evaluate("() => navigator.clipboard.readText()") == f"{identity.url}/login/callback"
    await screenshot(page, "setup-step-1-register")
    await _no_violations(page, "step 1")

    await page.get_by_role("button", name="Next: tell Kutamo about it").click()
    await _step(page, "connect")
    await page.get_by_label("Azure AD Application (client) ID").fill("1234-not-a-guid")
    await expect(page.locator("#application-id-error")).to_contain_text("not a GUID")
    await page.get_by_label("Azure AD Application (client) ID").fill(application)
    await expect(page.locator("#application-id-error")).to_have_text("")
    await page.get_by_label("Kutamo Login Code").fill(taken)
    await expect(page.locator("#login-code-error")).to_contain_text(
        f"Another organisation uses the login code {taken!r}"
    )
    code = unique_code("wood")
    await page.get_by_label("Kutamo Login Code").fill(code)
    await expect(page.locator("#login-code-availability")).to_contain_text(f"{identity.url}/login/{code}")
    await page.get_by_label("Azure AD Directory (tenant) ID").fill("not-a-directory")
    await expect(page.locator("#directory-id-error")).to_contain_text("not a GUID")
    await page.get_by_label("Azure AD Directory (tenant) ID").fill(directory)
    note = "Use your Woodgrove account.\n<b>Questions?</b> Ask IT."
    await page.get_by_label("Note to your users (optional)").fill(note)
    await expect(page.locator("#user-note-count")).to_have_text(str(len(note)))
    assert await page.locator("#user-note-preview").inner_text() == note
    await screenshot(page, "setup-step-2-connect")
    await _no_violations(page, "step 2")
    await page.get_by_role("button", name="Save and continue").click()

    await _step(page, "test")
    # The directory typed in step 2 is only proposed: the test sign-in from it is what pins it.
    await expect(page.locator("#test-purpose")).to_contain_text(f"proves directory {directory} is yours")
    proposed = (await operator.call("GET", f"/{tenant_id}/azure-ad")).json()
    assert (proposed["status"], proposed["directory_id"]) == ("pending_verification", None)
    assert proposed["proposed_directory_id"] == directory
    await screenshot(page, "setup-step-3-before")
    window = await open_microsoft_window(page)
    await expect(window.locator("#error-message")).to_contain_text("AADSTS700016")
    await window.close()
    await expect(page.locator("#no-answer")).to_be_visible(timeout=20_000)
    await page.get_by_label("Or type the code Microsoft showed").fill("AADSTS700016")
    await page.get_by_role("button", name="Explain this code").click()
    await expect(page.locator("#admin-hint")).to_contain_text("can take up to about 20 minutes to propagate")
    await screenshot(page, "setup-step-3-not-yet-propagated")

    await until_microsoft_finds_the_app(microsoft, application)
    async with page.expect_popup() as opened:
        await page.get_by_role("button", name="Try again").click()
    window = await opened.value
    await pick_account(window, admin)
    await consent(window)
    received = page.locator("#received")
    await expect(received).to_be_visible(timeout=30_000)
    await expect(page.locator("#received-title-value")).to_have_text("IT Director", timeout=30_000)
    await expect(page.locator("#received-name")).to_have_text("Nestor Wilke")
    await expect(page.locator("#received-email")).to_have_text(admin["mail"])
    await expect(page.locator("#received-directory")).to_have_text(directory)
    await expect(page.locator("#received-application")).to_have_text(application)
    pinned = (await operator.call("GET", f"/{tenant_id}/azure-ad")).json()
    assert (pinned["status"], pinned["directory_id"], pinned["proposed_directory_id"]) == ("active", directory, None)
    await page.wait_for_function("() => document.getElementById('avatar').naturalWidth > 0")
    await screenshot(page, "setup-step-3-received")
    await _no_violations(page, "step 3")

    await page.get_by_role("button", name="Next: share the login page").click()
    await _step(page, "share")
    await expect(page.locator("#connection-status")).to_have_text("active")
    await expect(page.locator("#login-url")).to_have_text(f"{identity.url}/login/{code}")
    await expect(page.locator("#sign-ins tbody")).to_contain_text("Nestor Wilke")
    await page.locator("#audit summary").click()
    await expect(page.locator("#audit-entries")).to_contain_text(f"setup-link:{link['id']}")
    await screenshot(page, "setup-step-4-share")
    await _no_violations(page, "step 4")

    person = await microsoft.add_user(
        directory, name="Alex Wilber", mail=f"alex.{uuid.uuid4().hex[:6]}@woodgrove.example", title="Teller"
    )
    people = await visit.open(f"{identity.url}/login/{code}")
    assert await people.locator("#note").inner_text() == note
    window = await open_microsoft_window(people)
    await pick_account(window, person)
    await consent(window)
    await signed_in_as(people, person)


async def test_an_admin_coming_back_resumes_where_they_are_changes_the_setup_and_turns_sign_in_off_and_on(
    visit: Visit, identity: ServiceProcess, operator: Admin, http: httpx.AsyncClient
) -> None:
    tenant_id = await operator.new_tenant("Tailspin Toys")
    old = unique_code("tail")
    directory = str(uuid.uuid4())
    assert (await operator.put_connection(tenant_id, login_code=old, directory_id=directory)).status_code == 200
    page = await visit.open((await _setup_link(operator, tenant_id))["url"])

    await _step(page, "share")
    await page.get_by_role("button", name="Change the login code or the note").click()
    await expect(page.get_by_label("Kutamo Login Code")).to_have_value(old)
    await page.get_by_label("Kutamo Login Code").fill(unique_code("tailnew"))
    await expect(page.locator("#login-code-grace")).to_contain_text(f"The old code {old} keeps working for")
    await page.get_by_label("Note to your users (optional)").fill("x" * 501)
    await expect(page.locator("#user-note-error")).to_contain_text("1 characters too many")

    await page.locator('[data-step="share"]').click()
    await page.get_by_role("button", name="Turn sign-in off").click()
    await expect(page.locator("#connection-status")).to_have_text("disabled")
    assert (await http.get(f"{identity.url}/login/{old}")).status_code == 404
    await page.get_by_role("button", name="Turn sign-in back on").click()
    await expect(page.locator("#connection-status")).to_have_text("active")
    assert (await http.get(f"{identity.url}/login/{old}")).status_code == 200


async def test_a_code_taken_while_the_admin_was_typing_is_refused_by_the_api_at_the_code_field(
    visit: Visit, identity: ServiceProcess, operator: Admin
) -> None:
    tenant_id = await operator.new_tenant("Adventure Works")
    page = await visit.open((await _setup_link(operator, tenant_id))["url"])
    await page.get_by_role("button", name="Next: tell Kutamo about it").click()
    code = unique_code("adv")
    await page.get_by_label("Azure AD Application (client) ID").fill(str(uuid.uuid4()))
    await page.get_by_label("Kutamo Login Code").fill(code)
    await expect(page.locator("#login-code-availability")).to_contain_text("Available")
    assert (await operator.put_connection(await operator.new_tenant("Faster"), login_code=code)).status_code == 200

    await page.get_by_role("button", name="Save and continue").click()
    await expect(page.locator("#login-code-error")).to_contain_text(code)
    assert await page.get_by_label("Kutamo Login Code").get_attribute("aria-invalid") == "true"
    assert await page.evaluate("() => document.activeElement.id") == "login-code"
    await _step(page, "connect")


@pytest.mark.parametrize("ending", ["revoked", "expired", "unknown"])
async def test_a_link_that_cannot_be_used_says_so_and_whom_to_ask_without_naming_the_organisation(
    ending: str, visit: Visit, identity: ServiceProcess, operator: Admin, db: asyncpg.Connection
) -> None:
    tenant_id = await operator.new_tenant("Secret Corp")
    link = await _setup_link(operator, tenant_id)
    url = link["url"]
    if ending == "revoked":
        assert (await operator.call("DELETE", f"/{tenant_id}/setup-links/{link['id']}")).status_code == 204
    elif ending == "expired":
        await db.execute(
            "update identity.setup_links set expires_at = now() - interval '1 minute' where id = $1",
            uuid.UUID(link["id"]),
        )
    else:
        url = re.sub(r"#link=.*$", "#link=kut_setup_" + "x" * 43, url)
    page = await visit.open(url)

    problem = page.locator("#link-problem")
    await expect(problem).to_be_visible()
    text = await problem.inner_text()
    assert "Ask the person at Kutamo who sent it to you for a new one." in text
    assert "Secret Corp" not in await page.content()
    await expect(page.locator("#setup")).to_be_hidden()
    await screenshot(page, f"setup-link-{ending}")
    await _no_violations(page, f"{ending} link")


async def test_without_a_directory_id_the_test_sign_in_pins_the_directory_of_the_admins_account(
    visit: Visit, identity: ServiceProcess, provisioning: ServiceProcess, microsoft: Emulator, operator: Admin
) -> None:
    tenant_id = await operator.new_tenant("Litware")
    directory, application, code = str(uuid.uuid4()), str(uuid.uuid4()), unique_code("lit")
    admin = await microsoft.add_user(
        directory, name="Lidia Holloway", mail=f"lidia.{uuid.uuid4().hex[:6]}@litware.example", title="IT Lead"
    )
    # An app for any organizational directory: Microsoft signs people in at /organizations until one is pinned.
    await microsoft.register_app(
        application, directory, sign_in_audience="multi", web_redirect_uris=[f"{identity.url}/login/callback"]
    )
    page = await visit.open((await _setup_link(operator, tenant_id))["url"])
    await page.get_by_label("Implicit flow").check()
    await expect(page.locator("#value-platform")).to_have_text("Web")
    await page.get_by_role("button", name="Next: tell Kutamo about it").click()
    await page.get_by_label("Azure AD Application (client) ID").fill(application)
    await page.get_by_label("Kutamo Login Code").fill(code)
    await page.get_by_role("button", name="Save and continue").click()

    await _step(page, "test")
    await expect(page.locator("#test-purpose")).to_contain_text("tells Kutamo which directory is yours")
    window = await open_microsoft_window(page)
    assert "/organizations/" in window.url
    await pick_account(window, admin)
    await consent(window)
    await expect(page.locator("#received-directory")).to_have_text(directory, timeout=30_000)
    await expect(page.locator("#received-title-value")).to_have_text("IT Lead", timeout=30_000)
    connection = await operator.call("GET", f"/{tenant_id}/azure-ad")
    assert connection.json()["directory_id"] == directory
    assert connection.json()["status"] == "active"
    assert connection.json()["sign_in_flow"] == "implicit"


async def test_the_admin_creates_a_provisioning_token_for_entra_on_the_setup_page_and_revokes_it(
    visit: Visit, identity: ServiceProcess, operator: Admin, http: httpx.AsyncClient
) -> None:
    tenant_id = await operator.new_tenant("Fourth Coffee")
    response = await operator.put_connection(tenant_id, login_code=unique_code("four"), directory_id=str(uuid.uuid4()))
    assert response.status_code == 200
    page = await visit.open((await _setup_link(operator, tenant_id))["url"])
    await _step(page, "share")
    await expect(page.locator("#scim-url")).to_have_text(f"{identity.url}/scim/v2")

    await page.get_by_role("button", name="Create a secret token").click()
    shown = page.locator("#scim-token")
    await expect(shown).to_be_visible()
    token = await shown.inner_text()
    await expect(page.locator("#scim-tokens tbody tr")).to_have_count(1)
    await screenshot(page, "setup-step-4-provisioning-token")
    await _no_violations(page, "step 4 with a provisioning token")
    users = f"{identity.url}/scim/v2/Users"
    assert (await http.get(users, headers={"Authorization": f"Bearer {token}"})).status_code == 200

    await page.get_by_role("button", name=re.compile(r"^Revoke the token")).click()
    await expect(page.locator("#scim-tokens tbody")).to_contain_text("revoked")
    assert (await http.get(users, headers={"Authorization": f"Bearer {token}"})).status_code == 401
    audit = (await operator.call("GET", f"/{tenant_id}/audit-log")).json()["entries"]
    assert {"scim_token.created", "scim_token.revoked"} <= {e["action"] for e in audit}
    assert token not in json.dumps(audit)
