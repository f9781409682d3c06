"""The worker's outbox: "user provisioned" events written in the batch's transaction, then relayed to Kafka.

A crash can no longer lose the announcement of a user record that was committed: both commit or
neither does. One relay per database publishes (a PostgreSQL advisory lock elects it), in id order,
only rows whose transactions have all finished, with the idempotent producer; a row is deleted once
Kafka has acknowledged it. A crash between the two republishes it: downstream de-duplicates by
event id (at least once, never lost).
"""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2

from kutamo_contracts.envelope import Envelope
from kutamo_provisioning.metrics import Metrics

log = logging.getLogger(__name__)

_LOCK_ID = 0x6B7574616D6F12
_BATCH = 2000
_IDLE_SECONDS = 0.5
_FOLLOWER_SECONDS = 2.0
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


async def write(conn: asyncpg.Connection, envelopes: list[Envelope], now: datetime) -> None:
    """Add the envelopes to the outbox inside the caller's transaction."""
    if not envelopes:
        return
    await conn.execute(
        "insert into outbox (topic, envelope, created_at)"
        " select t, e, $2 from jsonb_to_recordset($1::jsonb) as o(t text, e jsonb)",
        _encoder.encode([{"t": e.topic, "e": e} for e in envelopes]).decode(),
        now,
    )


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, bootstrap_servers: str, metrics: Metrics) -> None:
        self._pool = pool
        self._bootstrap = bootstrap_servers
        self._metrics = metrics
        self._wake = asyncio.Event()
        self.leader = False

    def wake(self) -> None:
        """A batch committed rows: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                async with self._pool.acquire() as lock_conn:
                    if await lock_conn.fetchval("select pg_try_advisory_lock($1)", _LOCK_ID):
                        try:
                            await self._lead(stopping)
                        finally:
                            self.leader = False
                            await lock_conn.execute("select pg_advisory_unlock($1)", _LOCK_ID)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError):
                self._metrics.outbox_errors.inc()
                log.exception("outbox relay failed; retrying")
            await _wait(stopping, _FOLLOWER_SECONDS)

    async def _lead(self, stopping: asyncio.Event) -> None:
        self.leader = True
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, enable_idempotence=True, linger_ms=5)
        await producer.start()
        try:
            while not stopping.is_set():
                if not await self._publish_some(producer):
                    self._wake.clear()
                    await _wait(self._wake, _IDLE_SECONDS)
        finally:
            await producer.stop()

    async def _publish_some(self, producer: AIOKafkaProducer) -> int:
        rows = await self._pool.fetch(
            "select id, envelope::text as envelope from outbox"
            " where xid < pg_snapshot_xmin(pg_current_snapshot()) order by id limit $1",
            _BATCH,
        )
        if not rows:
            return 0
        await asyncio.gather(*await _send(producer, [_decoder.decode(r["envelope"]) for r in rows]))
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
        per_partition.setdefault((e.topic, every[(murmur2(e.key) & 0x7FFFFFFF) % len(every)]), []).append(e)
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
