"""aiokafka's record batches still behave as the outbox relay relies on (kutamo_kit.kafka_records).

The relay fills batches from `AIOKafkaProducer.create_batch()` until `append` answers None, then sends
them with `send_batch`. No broker is needed: building a batch does not connect.
"""

import inspect
from collections.abc import AsyncIterator

import aiokafka
import pytest
from aiokafka import AIOKafkaProducer

from kutamo_kit.kafka_records import RecordBatch

CHANGED = f"aiokafka {aiokafka.__version__} changed its record batches; adapt kutamo_kit.kafka_records and the relay"


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", max_batch_size=1024)
    yield producer
    await producer.stop()


async def test_the_producer_builds_batches_with_the_methods_the_relay_calls(producer: AIOKafkaProducer) -> None:
    batch = producer.create_batch()
    assert isinstance(batch, RecordBatch), f"{CHANGED}: {type(batch)!r} has no append/close"
    parameters = inspect.signature(batch.append).parameters
    for name in ("timestamp", "key", "value", "headers"):
        assert name in parameters, f"{CHANGED}: append() takes no {name!r}"
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, f"{CHANGED}: {name!r} is not keyword-only"
    assert callable(producer.send_batch), f"{CHANGED}: the producer has no send_batch"


async def test_a_full_batch_refuses_the_next_record_with_none(producer: AIOKafkaProducer) -> None:
    batch: RecordBatch = producer.create_batch()
    record = {"timestamp": None, "key": b"user-1", "value": b"x" * 100, "headers": [("ce_type", b"t")]}
    added = 0
    while batch.append(**record) is not None:
        added += 1
        assert added < 1000, f"{CHANGED}: a 1 KiB batch never fills"
    assert added >= 1, f"{CHANGED}: an empty batch refused its first record"


async def test_a_closed_batch_takes_no_record(producer: AIOKafkaProducer) -> None:
    batch: RecordBatch = producer.create_batch()
    batch.close()
    assert batch.append(timestamp=None, key=b"k", value=b"v", headers=[]) is None, CHANGED
