"""What anyone on the internet can call: it writes nothing, and each client is rate limited."""

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from kutamo_dev.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant

LIMIT = 5


async def row_counts(db: asyncpg.Connection) -> dict[str, int]:
    """Rows per table of the identity schema; the outbox tables move on their own (the relay)."""
    tables = await db.fetch(
        "select table_name from information_schema.tables where table_schema = 'identity'"
        " and table_type = 'BASE TABLE' and table_name not like 'outbox%'"
    )
    return {t["table_name"]: await db.fetchval(f'select count(*) from identity."{t["table_name"]}"') for t in tables}


async def test_login_pages_their_configuration_and_popup_error_reports_write_nothing(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, db: asyncpg.Connection
) -> None:
    before = await row_counts(db)

    for _ in range(20):
        assert (await http.get(f"{identity.url}/v1/login/{tenant.login_code}")).status_code == 200
        assert (await http.get(f"{identity.url}/login/{tenant.login_code}")).status_code == 200
        report = {"error": "server_error", "error_codes": [700016]}
        answer = await http.post(f"{identity.url}/v1/login/{tenant.login_code}/microsoft-errors", json=report)
        assert answer.status_code == 200
        assert (await http.get(f"{identity.url}/v1/login/unknown-code-{_}")).status_code == 404

    assert await row_counts(db) == before
    assert "login_nonces" not in before


@pytest.fixture(scope="module")
def strict_identity(identity: ServiceProcess, logs_dir: Path) -> Iterator[ServiceProcess]:
    """A second identity process on the same database, allowing each client 5 requests a minute."""
    port = str(free_port())
    env = {**identity.env, "PORT": port, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    env["RATE_LIMIT_PER_MINUTE"] = str(LIMIT)
    service = ServiceProcess("kutamo_identity", env, logs_dir / "identity-rate-limited.log")
    service.start()
    yield service
    service.stop()


async def test_a_client_past_its_limit_gets_429_with_retry_after_on_every_public_route(
    http: httpx.AsyncClient, strict_identity: ServiceProcess, tenant: Tenant
) -> None:
    base = strict_identity.url
    allowed = [await http.get(f"{base}/v1/login/{tenant.login_code}") for _ in range(LIMIT)]

    refused = [
        await http.get(f"{base}/v1/login/{tenant.login_code}"),
        await http.post(
            f"{base}/v1/sign-ins", json={"login_code": tenant.login_code, "id_token": "a.b.c", "nonce": "n"}
        ),
        await http.post(f"{base}/v1/login/{tenant.login_code}/microsoft-errors", json={"error": "user_cancelled"}),
        await http.post(f"{base}/setup/session", json={"link": "kut_setup_guess"}),
        await http.get(f"{base}/login/{tenant.login_code}"),
        await http.get(f"{base}/login"),
    ]

    assert [r.status_code for r in allowed] == [200] * LIMIT
    for response in refused:
        assert response.status_code == 429, response.request.url
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "rate_limited"
        assert 1 <= int(response.headers["retry-after"]) <= 60 // LIMIT
    # Health, the session keys and the admin API are not public routes of people: not counted.
    assert (await http.get(f"{base}/health/live")).status_code == 200
    assert (await http.get(f"{base}/.well-known/jwks.json")).status_code == 200
