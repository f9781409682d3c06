"""A sign-in's record, as the identity service put it on Kafka, read by the CloudEvents SDK's Kafka binding.

The envelope's own decoder (kutamo_contracts.envelope) agrees with its encoder by construction; the
official SDK (PyPI `cloudevents`) is what a downstream team would use, so it checks the mapping
independently: every `ce_*` header a valid CloudEvents 1.0 attribute, `content-type` the data's type,
the key the partition key, the value the payload.
"""

from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from kutamo_contracts.topics import USER_SIGNED_IN
from kutamo_dev import stack as dev_stack
from tests.e2e.conftest import eventually
from tests.support.microsoft import Emulator
from tests.support.processes import ServiceProcess
from tests.support.signin import sign_in
from tests.support.tenants import Tenant


async def test_a_sign_in_record_is_a_valid_cloudevent_for_the_official_sdk(
    http: httpx.AsyncClient, identity: ServiceProcess, tenant: Tenant, microsoft: Emulator, stack: dev_stack.Stack
) -> None:
    partitions = [TopicPartition(USER_SIGNED_IN.name, p) for p in range(USER_SIGNED_IN.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        person = await microsoft.add_user(tenant.directory_id, name="Cloud Event", mail="ce@contoso.com", title="QA")
        signed_in = (await sign_in(http, identity, microsoft, tenant, person["oid"])).json()

        async def the_record() -> KafkaMessage | None:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if dict(r.headers).get("ce_id") == signed_in["event_id"].encode():
                        return KafkaMessage(headers=dict(r.headers), key=r.key, value=r.value)
            return None

        message = await eventually(the_record, what="the sign-in's record on Kafka")
    finally:
        await consumer.stop()

    event = from_binary_event(message)

    assert event.get_specversion() == "1.0"
    assert event.get_id() == signed_in["event_id"]
    assert event.get_type() == USER_SIGNED_IN.event_type
    assert event.get_source()
    assert isinstance(event.get_time(), datetime)
    assert event.get_time().utcoffset() is not None
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("partitionkey") == signed_in["user_id"]
    data = event.get_data()
    assert isinstance(data, dict)
    assert (data["event_id"], data["user_id"], data["azure_oid"]) == (
        signed_in["event_id"], signed_in["user_id"], person["oid"]
    )  # fmt: skip
    assert datetime.fromisoformat(data["signed_in_at"]) == event.get_time()
