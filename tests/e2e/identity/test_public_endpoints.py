"""What anyone on the internet can call: it writes nothing, and each client is rate limited."""

import asyncpg
import httpx

from tests.support.processes import ServiceProcess
from tests.support.tenants import Tenant


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
