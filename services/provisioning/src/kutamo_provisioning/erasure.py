"""Erasure in the worker: on `user-erased`, delete the user's record, their avatars no one else uses and
their processed events, and keep a tombstone (ids and time) so no older sign-in of theirs is applied again.

A consumer of its own (group `<KAFKA_CONSUMER_GROUP>.erasures`), so erasures never wait behind a sign-in
backlog and the sign-in path stays as it is. Offsets are committed after the database commit; erasing
twice is harmless. A record that is not a `UserErased` CloudEvent goes to the dead-letter topic.
"""

import asyncio
import logging
import uuid
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kutamo_contracts.envelope import EnvelopeError, decode_record
from kutamo_contracts.events import UserErased
from kutamo_contracts.topics import DEAD_LETTERS, USER_ERASED
from kutamo_kit.kafka import clients
from kutamo_kit.seams import Clock
from kutamo_provisioning import deadletters
from kutamo_provisioning.avatars import AvatarStore
from kutamo_provisioning.batch import Record
from kutamo_provisioning.errors import MalformedEvent
from kutamo_provisioning.metrics import Metrics
from kutamo_provisioning.tenancy import worker_transaction

log = logging.getLogger(__name__)


async def erase(conn: asyncpg.Connection, store: AvatarStore, event: UserErased, now: datetime) -> bool:
    """Erase one user inside the caller's (all-tenants) transaction; True when a record was there."""
    user_id, tenant_id = uuid.UUID(event.user_id), uuid.UUID(event.tenant_id)
    await conn.execute(
        "insert into erased_users (user_id, tenant_id, erased_at, source_event_id) values ($1, $2, $3, $4)"
        " on conflict (user_id) do nothing",
        user_id, tenant_id, event.erased_at, uuid.UUID(event.event_id),
    )  # fmt: skip
    found = await conn.fetchval(
        "delete from users where user_id = $1 and tenant_id = $2 returning 1", user_id, tenant_id
    )
    await conn.execute("delete from processed_events where user_id = $1", user_id)
    await store.sweep(conn, tenant_id)
    log.info("user erased", extra={"tenant_id": event.tenant_id, "user_id": event.user_id,
                                   "event_id": event.event_id, "had_record": bool(found)})  # fmt: skip
    return bool(found)


class ErasureConsumer:
    def __init__(
        self, bootstrap_servers: str, group_id: str, pool: asyncpg.Pool, store: AvatarStore, metrics: Metrics,
        clock: Clock, stopping: asyncio.Event,
    ) -> None:  # fmt: skip
        self._bootstrap = bootstrap_servers
        self._group = f"{group_id}.erasures"
        self._pool = pool
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self.stopping = stopping

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            USER_ERASED.name, bootstrap_servers=self._bootstrap, group_id=self._group, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed", **clients.options(),
        )  # fmt: skip
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, **clients.options())
        clients.backoff_reconnects(consumer)
        clients.backoff_reconnects(producer)
        await producer.start()
        await consumer.start()
        try:
            while not self.stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                if not batches:
                    continue
                await self._apply([r for rs in batches.values() for r in rs], producer)
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items()})
        finally:
            await consumer.stop()
            await producer.stop()

    async def _apply(self, records: list[Record], producer: AIOKafkaProducer) -> None:
        events: list[UserErased] = []
        malformed: list[tuple[Record, str]] = []
        for record in records:
            try:
                events.append(decode_record(USER_ERASED, UserErased, record.headers, record.value))
            except EnvelopeError as exc:
                malformed.append((record, str(exc)))
        for record, why in malformed:
            letter = deadletters.letter_for(record, MalformedEvent(why), 1, self._clock())
            await (await producer.send(DEAD_LETTERS.name, letter.value, key=letter.key, headers=letter.headers))
            self._metrics.dead_letters.labels("malformed_event").inc()
            log.error("erasure record dead-lettered", extra={"topic": record.topic, "offset": record.offset})
        if not events:
            return
        now = self._clock()
        async with worker_transaction(self._pool) as conn:
            for event in events:
                await erase(conn, self._store, event, now)
        self._metrics.events.labels("erasure").inc(len(events))
