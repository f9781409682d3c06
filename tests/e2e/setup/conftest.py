"""Setup-link fixtures: an operator's admin client, and setup pages (each a browser of its own)."""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.conftest import OPERATOR_KEY
from tests.e2e.identity.admin import Admin
from tests.e2e.setup.page import SetupPage, cookieless_client
from tests.support.processes import ServiceProcess


@pytest.fixture
def operator(http: httpx.AsyncClient, identity: ServiceProcess) -> Admin:
    return Admin(http, identity, OPERATOR_KEY)


@pytest.fixture
async def pages(identity: ServiceProcess) -> AsyncIterator[Callable[[], SetupPage]]:
    """New setup pages, sharing one client that keeps no cookies."""
    async with cookieless_client() as client:
        yield lambda: SetupPage(client, identity)
