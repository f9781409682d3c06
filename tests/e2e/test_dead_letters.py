"""A message the worker cannot read goes to the dead-letter topic with its reason; later sign-ins still arrive."""

import json
import uuid
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from kutamo_contracts.topics import DEAD_LETTERS, USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import eventually, provisioned_user
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant


async def test_a_malformed_event_is_dead_lettered_and_the_partition_moves_on(
    http: httpx.AsyncClient,
    identity: ServiceProcess,
    provisioning: ServiceProcess,
    tenant: Tenant,
    microsoft: Emulator,
    stack: dev_stack.Stack,
) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    dead = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await dead.start()
    partition = TopicPartition(DEAD_LETTERS.name, 0)
    dead.assign([partition])
    await dead.seek_to_end(partition)
    await dead.position(partition)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        person = await microsoft.add_user(
            tenant.directory_id, name="Pradeep", mail="pradeep@contoso.com", title="Counsel"
        )
        # Same key as the person's later sign-in, so both land on one partition, the bad one first.
        signed_in = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()
        malformed = f'{{"this is": "not an event", "test": "{uuid.uuid4()}"'  # unclosed; ours alone
        await producer.send_and_wait(
            USER_SIGNED_IN.name,
            malformed.encode(),
            key=signed_in["user_id"].encode(),
            headers=[("ce_specversion", b"1.0"), ("ce_type", USER_SIGNED_IN.event_type.encode())],
        )
        second = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()

        # Other tests dead-letter on the same topic: read until our own letter, not the first one after the seek.
        async def our_letter() -> dict[str, Any] | None:
            for record in (await dead.getmany(partition, timeout_ms=500)).get(partition, []):
                letter: dict[str, Any] = json.loads(record.value)
                if letter.get("value") == malformed:
                    return letter
            return None

        letter = await eventually(our_letter, within=30, what="our dead letter")
        assert letter["reason"] == "malformed_event"
        assert letter["topic"] == USER_SIGNED_IN.name
        await provisioned_user(http, provisioning, second["user_id"], second["session_token"], title="Counsel")
    finally:
        await producer.stop()
        await dead.stop()
