"""The worker's outbox: "user provisioned" events written in the batch's transaction, then relayed to Kafka.

A crash can no longer lose the announcement of a user record that was committed: both commit or
neither does. One relay per database publishes (a PostgreSQL advisory lock elects it), in id order,
only rows whose transactions have all finished, with the idempotent producer; a row is deleted once
Kafka has acknowledged it. A crash between the two republishes it: downstream de-duplicates by
event id (at least once, never lost). Each batch that writes rows sends a NOTIFY on CHANNEL in its
transaction; the leader LISTENs, so it looks as soon as rows commit, and polls as a fallback.
"""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kutamo_contracts.envelope import Envelope
from kutamo_contracts.partitioning import partition_for

log = logging.getLogger(__name__)

CHANNEL = "kutamo_provisioning_outbox"
_LOCK_ID = 0x6B7574616D6F12
_BATCH = 2000
_IDLE_SECONDS = 0.5
_FOLLOWER_SECONDS = 2.0
_packer = msgspec.msgpack.Encoder()
_unpacker = msgspec.msgpack.Decoder(Envelope)
_legacy = msgspec.json.Decoder(Envelope)  # rows written before migration 0004


async def write(conn: asyncpg.Connection, envelopes: list[Envelope], now: datetime) -> None:
    """Add the envelopes to the outbox inside the caller's transaction (COPY: one round trip, no parsing)."""
    if not envelopes:
        return
    await conn.copy_records_to_table(
        "outbox",
        schema_name="provisioning",
        columns=("topic", "record", "created_at"),
        records=[(e.topic, _packer.encode(e), now) for e in envelopes],
    )
    await conn.execute(f"notify {CHANNEL}")


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class Counters(Protocol):
    """Where the relay counts what it published and what failed (the worker's metrics, or a report pipe)."""

    @property
    def outbox_published(self) -> _Counter: ...

    @property
    def outbox_errors(self) -> _Counter: ...


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, bootstrap_servers: str, metrics: Counters) -> None:
        self._pool = pool
        self._bootstrap = bootstrap_servers
        self._metrics = metrics
        self._wake = asyncio.Event()
        self.leader = False

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                async with self._pool.acquire() as lock_conn:
                    if await lock_conn.fetchval("select pg_try_advisory_lock($1)", _LOCK_ID):
                        await lock_conn.add_listener(CHANNEL, self._notified)
                        try:
                            await self._lead(stopping)
                        finally:
                            self.leader = False
                            await lock_conn.remove_listener(CHANNEL, self._notified)
                            await lock_conn.execute("select pg_advisory_unlock($1)", _LOCK_ID)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError):
                self._metrics.outbox_errors.inc()
                log.exception("outbox relay failed; retrying")
            await _wait(stopping, _FOLLOWER_SECONDS)

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _lead(self, stopping: asyncio.Event) -> None:
        self.leader = True
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            while not stopping.is_set():
                self._wake.clear()  # before looking: a NOTIFY that lands while we read is not lost
                if not await self._publish_some(producer):
                    await _wait(self._wake, _IDLE_SECONDS)
        finally:
            await producer.stop()

    async def _publish_some(self, producer: AIOKafkaProducer) -> int:
        rows = await self._pool.fetch(
            "select id, record, envelope::text as envelope from outbox"
            " where xid < pg_snapshot_xmin(pg_current_snapshot()) order by id limit $1",
            _BATCH,
        )
        if not rows:
            return 0
        envelopes = [_unpacker.decode(r[1]) if r[1] is not None else _legacy.decode(r[2]) for r in rows]
        await asyncio.gather(*await _send(producer, envelopes))
        await self._pool.execute("delete from outbox where id = any($1)", [r["id"] for r in rows])
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)


async def _send(producer: AIOKafkaProducer, envelopes: list[Envelope]) -> list[asyncio.Future[Any]]:
    """Hand the envelopes to the producer as record batches, one partition at a time, in outbox order.

    The partition is the one the producer's default partitioner picks for the key (murmur2, as Java's),
    so a user's announcements keep their partition; batches skip aiokafka's per-message overhead.
    """
    per_partition: dict[tuple[str, int], list[Envelope]] = {}
    partitions: dict[str, list[int]] = {}
    for e in envelopes:
        if e.topic not in partitions:
            partitions[e.topic] = sorted(await producer.partitions_for(e.topic))
        every = partitions[e.topic]
        per_partition.setdefault((e.topic, every[partition_for(e.key, len(every))]), []).append(e)
    futures = []
    for (topic, partition), queued in per_partition.items():
        batch = producer.create_batch()
        for e in queued:
            if batch.append(key=e.key, value=e.value, timestamp=None, headers=e.headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = producer.create_batch()
                batch.append(key=e.key, value=e.value, timestamp=None, headers=e.headers)
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
