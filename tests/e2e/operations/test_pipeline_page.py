"""The pipeline page in a real browser: an operator watches the consumer lag grow while the worker is
stopped and fall back once it runs again. A screenshot of each moment is kept as a test artifact."""

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.conftest import OPERATOR_KEY
from tests.support.browser import ARTIFACTS, chromium
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def lag_shown(page: Page) -> int:
    return int(await page.inner_text("#total-lag"))


async def wait_for_lag(page: Page, check: object, timeout_s: float = 60) -> int:
    await page.wait_for_function(
        f"() => {{ const e = document.getElementById('total-lag'); return e && ({check})(Number(e.textContent)); }}",
        timeout=timeout_s * 1000,
    )
    return await lag_shown(page)


@pytest.mark.stops_services
async def test_an_operator_sees_the_lag_grow_while_the_worker_is_down_and_recover(
    browser: Browser,
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = await browser.new_page(viewport={"width": 1366, "height": 900})
    await page.goto(f"{identity.url}/ops")
    await page.fill("#key", OPERATOR_KEY)
    await page.click("button[type=submit]")
    await wait_for_lag(page, "(n) => n === 0")
    await page.screenshot(path=str(ARTIFACTS / "ops-page-healthy.png"), full_page=True)

    provisioning.stop()
    try:
        person = await microsoft.add_user(tenant.directory_id, name="Queued", mail="q@contoso.com", title="Waiting")
        for _ in range(5):
            assert (await sign_in(http, identity, microsoft, tenant, person["oid"])).status_code == 201
        behind = await wait_for_lag(page, "(n) => n >= 5")
        await page.screenshot(path=str(ARTIFACTS / "ops-page-lagging.png"), full_page=True)
    finally:
        provisioning.start()

    assert behind >= 5
    assert "messages behind" in await page.inner_text("#consumer")
    await wait_for_lag(page, "(n) => n === 0")
    await page.screenshot(path=str(ARTIFACTS / "ops-page.png"), full_page=True)
    assert "Sign-ins" in await page.inner_text("#sign-ins")
