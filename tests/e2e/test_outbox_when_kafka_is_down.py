"""Sign-in keeps working while Kafka is down; the event waits in the outbox and arrives afterwards."""

import asyncpg
import httpx
import pytest

from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import eventually, provisioned_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant


@pytest.mark.disrupts_kafka
async def test_sign_in_while_kafka_is_stopped_reaches_the_worker_after_kafka_returns(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    stack: dev_stack.Stack,
    db: asyncpg.Connection,
) -> None:
    person = await microsoft.add_user(
        tenant.directory_id, name="Megan Bowen", mail="megan@contoso.com", title="Marketing"
    )
    dev_stack.stop_kafka(stack)
    try:
        response = await sign_in(http, identity, microsoft, tenant, person["oid"])

        assert response.status_code == 201, response.text
        signed_in = response.json()
        waiting = await db.fetchval(
            "select count(*) = 1 from identity.outbox where event_id = $1::uuid",
            signed_in["event_id"],
        )
        assert waiting is True

        async def worker_unready() -> dict | None:  # type: ignore[type-arg]
            answer = await http.get(f"{provisioning.url}/health/ready")
            return answer.json() if answer.status_code == 503 else None

        unready = await eventually(worker_unready, within=60, what="the worker reporting not ready without Kafka")
        assert unready["checks"]["kafka"]["ok"] is False
        # Sign-ins do not need Kafka, so the identity service stays ready.
        assert (await http.get(f"{identity.url}/health/ready")).status_code == 200
    finally:
        dev_stack.start_kafka(stack)

    async def worker_ready() -> bool | None:
        return True if (await http.get(f"{provisioning.url}/health/ready")).status_code == 200 else None

    await eventually(worker_ready, within=90, what="the worker ready again after Kafka returned")

    async def published() -> bool | None:
        return await db.fetchval(
            "select true from identity.outbox_published where event_id = $1::uuid",
            signed_in["event_id"],
        )

    await eventually(published, within=60, what="outbox row published after Kafka restart")
    user = await provisioned_user(
        http, provisioning, signed_in["user_id"], signed_in["session_token"], title="Marketing"
    )
    assert user["name"] == "Megan Bowen"
