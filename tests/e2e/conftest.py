"""End-to-end fixtures: both services running, a tenant, and its people in the emulated directory."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant, create_tenant

T = TypeVar("T")


@pytest.fixture(scope="session")
def tenant(identity: ServiceProcess) -> Tenant:
    return create_tenant(identity, name="Contoso Ltd", note="Sign in with your Contoso work account.")


@pytest.fixture(scope="session")
def microsoft(http: httpx.AsyncClient, emulator_url: str) -> Emulator:
    return Emulator(http, emulator_url)


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 30.0, what: str = "condition") -> T:
    """Poll until probe returns something, or fail after timeout seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await probe()
        if result is not None:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {within}s")


async def provisioned_user(
    http: httpx.AsyncClient, provisioning: ServiceProcess, user_id: str, session: str, *, title: str | None
) -> dict[str, Any]:
    """The user record once the worker has applied the sign-in that carries this title."""

    async def probe() -> dict[str, Any] | None:
        response = await http.get(
            f"{provisioning.url}/v1/users/{user_id}", headers={"Authorization": f"Bearer {session}"}
        )
        if response.status_code == 200 and response.json()["title"] == title:
            record: dict[str, Any] = response.json()
            return record
        return None

    return await eventually(probe, what=f"provisioning of user {user_id}")
