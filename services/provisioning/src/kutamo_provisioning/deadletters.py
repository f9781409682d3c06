"""Dead letters: what is sent for a message the worker gave up on, and how operators list and replay them.

The value is the `DeadLetter` contract (the original record kept whole); the `dlq_*` headers say why
without decoding it: reason, error class and message, original topic/partition/offset, attempts, time.
"""

import base64
from collections.abc import AsyncIterator
from datetime import datetime

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from kutamo_contracts.envelope import header_map
from kutamo_contracts.events import DeadLetter
from kutamo_contracts.topics import DEAD_LETTERS
from kutamo_provisioning.errors import ProvisioningError

_encoder = msgspec.json.Encoder()


class Letter(msgspec.Struct, frozen=True):
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def letter_for(record: ConsumerRecord[bytes, bytes], error: ProvisioningError, attempts: int, now: datetime) -> Letter:
    raw = record.value or b""
    try:
        text, exact = raw.decode("utf-8"), None
    except UnicodeDecodeError:
        text, exact = raw.decode("utf-8", "replace"), base64.b64encode(raw).decode()
    letter = DeadLetter(
        reason=error.code,
        detail=error.detail,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key else None,
        headers=header_map(record.headers),
        value=text,
        value_base64=exact,
        error_class=error.error_class,
        failed_at=now,
        attempts=attempts,
    )
    why = {
        "dlq_reason": error.code,
        "dlq_error_class": error.error_class,
        "dlq_error_message": error.detail[:1000],
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_attempts": str(attempts),
        "dlq_failed_at": now.isoformat(),
    }
    headers = [("ce_type", DEAD_LETTERS.event_type.encode()), ("content-type", b"application/json")]
    headers += [(k, v.encode()) for k, v in why.items()]
    return Letter(key=record.key, value=_encoder.encode(letter), headers=headers)


async def read_all(bootstrap_servers: str) -> AsyncIterator[tuple[int, DeadLetter]]:
    """Every dead letter now in the topic, with its offset (read without a consumer group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partition = TopicPartition(DEAD_LETTERS.name, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        start = (await consumer.beginning_offsets([partition]))[partition]
        await consumer.position(partition)  # let the assignment's own offset reset finish before seeking
        consumer.seek(partition, start)
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=2000)
            for record in batch.get(partition, []):
                if record.offset < end and record.value is not None:
                    yield record.offset, msgspec.json.decode(record.value, type=DeadLetter)
    finally:
        await consumer.stop()


def original(letter: DeadLetter) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the record as it was before it failed."""
    value = base64.b64decode(letter.value_base64) if letter.value_base64 else letter.value.encode()
    key = letter.key.encode() if letter.key is not None else None
    return key, value, [(k, v.encode()) for k, v in letter.headers.items()]


async def replay(bootstrap_servers: str, offset: int | None) -> list[int]:
    """Re-publish dead letters (all, or the one at `offset`) to their original topics; their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True)
    await producer.start()
    replayed: list[int] = []
    try:
        async for at, letter in read_all(bootstrap_servers):
            if offset is not None and at != offset:
                continue
            key, value, headers = original(letter)
            headers.append(("dlq_replayed_from_offset", str(at).encode()))
            await producer.send_and_wait(letter.topic, value, key=key, headers=headers)
            replayed.append(at)
    finally:
        await producer.stop()
    return replayed
