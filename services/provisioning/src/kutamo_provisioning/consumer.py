"""The Kafka side of the worker: getmany -> decode -> provision -> commit; dead letters; shutdown.

The offset of a partition is committed only after the records before it were applied and their
database transactions committed. A record that cannot be applied after bounded retries goes to the
dead-letter topic with its reason, and the partition moves on.
"""

import asyncio
import logging
import uuid

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from kutamo_contracts.envelope import (
    SOURCE_PROVISIONING,
    EnvelopeError,
    decode_record,
    encode_record,
    header_map,
)
from kutamo_contracts.events import DeadLetter, UserProvisioned, UserSignedIn
from kutamo_contracts.topics import DEAD_LETTERS, USER_PROVISIONED, USER_SIGNED_IN
from kutamo_provisioning.errors import DeadLetterNow, RetryLater
from kutamo_provisioning.provisioner import Provisioner
from kutamo_provisioning.seams import Clock
from kutamo_provisioning.users import Outcome

log = logging.getLogger(__name__)

_ATTEMPTS = 3


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: "SignInConsumer") -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Offsets are committed right after each partition's records are applied, so nothing is
        # pending here; the next owner starts after the last committed record.
        log.info("partitions revoked", extra={"partitions": sorted(f"{tp.topic}/{tp.partition}" for tp in revoked)})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._worker.assigned = set(assigned)
        log.info(
            "partitions assigned",
            extra={"partitions": sorted(f"{tp.topic}/{tp.partition}" for tp in assigned)},
        )


class SignInConsumer:
    def __init__(self, bootstrap_servers: str, group_id: str, provisioner: Provisioner, clock: Clock) -> None:
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._provisioner = provisioner
        self._clock = clock
        self._stopping = asyncio.Event()
        self.assigned: set[TopicPartition] = set()
        self.running = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, acks="all")
        consumer.subscribe([USER_SIGNED_IN.name], listener=_Rebalance(self))
        await consumer.start()
        await producer.start()
        self.running = True
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                for tp, records in batches.items():
                    for record in records:
                        await self._handle(record, producer)
                    await consumer.commit({tp: records[-1].offset + 1})
        finally:
            self.running = False
            await consumer.stop()
            await producer.stop()

    async def _handle(self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer) -> None:
        where = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                event = _decode(record)
                outcome = await self._provisioner.apply(event)
            except DeadLetterNow as exc:
                await self._dead_letter(producer, record, exc.code, exc.detail, attempt)
                return
            except RetryLater as exc:
                if attempt == _ATTEMPTS:
                    await self._dead_letter(producer, record, exc.code, exc.detail, attempt)
                    return
                log.warning("provisioning will retry", extra={**where, "reason": exc.code, "attempt": attempt})
                await asyncio.sleep(0.5 * attempt)
                continue
            log.info("sign-in applied", extra={**where, "event_id": event.event_id, "change": outcome.change})
            if outcome.record is not None:
                await self._announce(producer, event, outcome)
            return

    async def _announce(self, producer: AIOKafkaProducer, event: UserSignedIn, outcome: Outcome) -> None:
        now = self._clock()
        record = outcome.record or {}
        message = UserProvisioned(
            event_id=str(uuid.uuid4()),
            source_event_id=event.event_id,
            tenant_id=event.tenant_id,
            user_id=event.user_id,
            change=outcome.change,  # type: ignore[arg-type]
            changed_fields=outcome.changed_fields,
            name=_text(record["name"]),
            email=_text(record["email"]),
            title=_text(record["title"]),
            avatar_sha256=_text(record["avatar_sha256"]),
            provisioned_at=now,
        )
        envelope = encode_record(
            USER_PROVISIONED,
            message,
            event_id=message.event_id,
            subject=event.user_id,
            source=SOURCE_PROVISIONING,
            time=now,
        )
        await producer.send_and_wait(envelope.topic, envelope.value, key=envelope.key, headers=envelope.headers)

    async def _dead_letter(
        self,
        producer: AIOKafkaProducer,
        record: ConsumerRecord[bytes, bytes],
        reason: str,
        detail: str,
        attempts: int,
    ) -> None:
        letter = DeadLetter(
            reason=reason,
            detail=detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key else None,
            headers=header_map(record.headers),
            value=(record.value or b"").decode("utf-8", "replace"),
            failed_at=self._clock(),
            attempts=attempts,
        )
        await producer.send_and_wait(
            DEAD_LETTERS.name,
            msgspec.json.encode(letter),
            key=record.key,
            headers=[("ce_type", DEAD_LETTERS.event_type.encode()), ("content-type", b"application/json")],
        )
        log.error(
            "message dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )


def _decode(record: ConsumerRecord[bytes, bytes]) -> UserSignedIn:
    try:
        return decode_record(USER_SIGNED_IN, UserSignedIn, record.headers, record.value)
    except EnvelopeError as exc:
        raise DeadLetterNow("malformed_event", str(exc)) from exc


def _text(value: object) -> str | None:
    return None if value is None else str(value)
