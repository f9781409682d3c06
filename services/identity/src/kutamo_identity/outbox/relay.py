"""The outbox relay: publishes outbox rows to Kafka in commit order, per user in order, then moves them out.

One relay is active at a time (a PostgreSQL advisory lock held on the relay's own connection), so
two identity instances never publish the same row in normal operation; when the active instance
dies its connection closes (TCP keepalives bound a vanished host), the lock is freed and another
instance takes over within a few seconds.

Which rows: never "id above the last one seen" (a bigserial is handed out at insert, not at commit,
so a late-committing row would be skipped). Every round reads the unpublished rows whose writing
transaction is older than the oldest one still running (`xid < pg_snapshot_xmin`): that set only
grows at its end, so rows leave in commit order and nothing is skipped. A user's sign-ins are
serialised by the lock on their identity row, so their rows are inserted in order; a row is held
back while an earlier row of the same key is not yet below the horizon (order.py), so transaction
ids handed out in the other order cannot reorder one user's events.

Delivery is at least once: rows leave the outbox after Kafka acknowledged them, so a crash in between
publishes them again (same `ce_id`; consumers de-duplicate on it). The producer is idempotent
(`acks=all`, one batch in flight per partition) so retries inside it neither duplicate nor reorder.
The outbox holds waiting rows only: a published row moves to `outbox_published` (a delete and an
append, far cheaper than updating it in place) and is deleted there after the retention period.
"""

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.batches import Batch, Batcher
from kutamo_identity.outbox.order import leaving
from kutamo_identity.outbox.writer import CHANNEL
from kutamo_kit.seams import Clock

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x6B7574616D6F02
_CLEANUP_CHUNK = 10_000

# The first $1 waiting rows in id order, not in flight ($2), each telling whether its transaction is
# below the horizon, taken from the same snapshot the rows are read in. `order.leaving` keeps those
# that may leave now; rows above the horizon are read again next round.
_HEAD = """
select id, topic, key, value, headers, xid < (select pg_snapshot_xmin(pg_current_snapshot())) as settled
from outbox
where id not in (select unnest($2::bigint[]))
order by id limit $1
"""
# Published rows leave the queue in one statement, kept with the time they left.
_MOVE = """
with gone as (
    delete from outbox where id = any($1::bigint[]) returning id, event_id, topic, key, value, headers, created_at
)
insert into outbox_published (id, event_id, topic, key, value, headers, created_at, published_at)
select id, event_id, topic, key, value, headers, created_at, $2 from gone
"""
_BACKLOG = "select count(*) as rows, min(created_at) as oldest from outbox"
_CLEANUP = """
delete from outbox_published where ctid = any(array(
    select ctid from outbox_published where published_at < $1 order by published_at limit $2
))
"""
_SESSION = {
    "search_path": "identity",
    "application_name": "kutamo-outbox-relay",
    # A dead relay host (no FIN, no RST) frees the lock within about 10 + 3 * 5 seconds.
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    # Every relay query walks an index in id order and stops at the batch size. Without fresh
    # statistics (a new or fast-growing outbox) the planner would rather bitmap-scan and sort the
    # whole backlog: 30x slower at 100,000 waiting rows.
    "enable_bitmapscan": "off",
}


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        clock: Clock,
        *,
        metrics: IdentityMetrics | None = None,
        retention: timedelta = timedelta(days=7),
        batch_size: int = 2000,
        poll_interval: float = 0.5,
        max_backoff: float = 5.0,
        observe_every: float = 5.0,
        cleanup_every: float = 300.0,
    ) -> None:
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._clock = clock
        self._metrics = metrics
        self._retention = retention
        self._batch = batch_size
        self._poll = poll_interval
        self._max_backoff = max_backoff
        self._observe_every = observe_every
        self._cleanup_every = cleanup_every
        self._next_cleanup = 0.0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._batcher = Batcher()
        self.published_total = 0
        self.is_leader = False
        self.last_error: str | None = None

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_backlog(), name="outbox-backlog") if self._metrics else None
        try:
            await self._relay()
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)

    async def _relay(self) -> None:
        backoff = self._poll
        while not self._stopping.is_set():
            try:
                await self._run_once_connected()
                backoff = self._poll
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as exc:
                self.last_error = type(exc).__name__
                if self._metrics is not None:
                    self._metrics.relay_errors.inc()
                log.warning("outbox relay paused", extra={"error": type(exc).__name__, "retry_in_s": backoff})
                await self._close_producer()
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        await self._close_producer()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _run_once_connected(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._database_url,
            server_settings=_SESSION,
        )
        try:
            while not await conn.fetchval("select pg_try_advisory_lock($1)", _RELAY_LOCK):
                self.is_leader = False
                if await self._sleep(self._poll * 4):
                    return
            self.is_leader = True
            log.info("outbox relay leading")
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            await self._publish(conn)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _publish(self, conn: asyncpg.Connection) -> None:
        """Publish until stopped, one batch in flight. While Kafka takes a batch, the next one is read
        (on the leader's connection) and built into Kafka record batches, and the previous one is moved
        out of the outbox (on a second connection), so the database, Python and Kafka work overlap. A
        batch is queued only after the previous one was acknowledged, so a failure never lets a later
        row overtake an earlier one."""
        marker: asyncpg.Connection = await asyncpg.connect(self._database_url, server_settings=_SESSION)
        marking: asyncio.Task[None] | None = None
        marking_ids: list[int] = []
        try:
            producer = await self._ensure_producer()
            rows = await self._ready(conn, [])
            sending = await self._queue(producer, await self._batcher.build(producer, rows))
            started = time.perf_counter()
            while not self._stopping.is_set():
                following = await self._ready(conn, [r["id"] for r in rows] + marking_ids)
                prepared = await self._batcher.build(producer, following)
                await asyncio.gather(*sending)
                if marking is not None:
                    await marking
                marking, marking_ids = None, []
                sending = await self._queue(producer, prepared)
                if rows:
                    marking = asyncio.create_task(self._mark(marker, rows, started))
                    marking_ids = [r["id"] for r in rows]
                started = time.perf_counter()
                await self._cleanup_now_and_then(conn)
                if not following:
                    if marking is not None:
                        await marking
                    marking, marking_ids = None, []
                    if await self._sleep(self._poll):
                        return
                rows = following
        finally:
            if marking is not None:
                await asyncio.gather(marking, return_exceptions=True)
            with contextlib.suppress(Exception):
                await marker.close(timeout=2)

    async def _ready(self, conn: asyncpg.Connection, in_flight: list[int]) -> list[asyncpg.Record]:
        return leaving(await conn.fetch(_HEAD, self._batch, in_flight))

    async def _queue(self, producer: AIOKafkaProducer, batches: list[Batch]) -> list["asyncio.Future[Any]"]:
        """Hand the batches to the producer; return the futures of their acknowledgements. A closed
        batch leaves at once: an open one would wait out the producer's linger for records that
        will never come."""
        for batch in batches:
            batch.builder.close()
        return [await producer.send_batch(b.builder, b.topic, partition=b.partition) for b in batches]

    async def _mark(self, conn: asyncpg.Connection, rows: list[asyncpg.Record], started: float) -> None:
        await conn.execute(_MOVE, [r["id"] for r in rows], self._clock())
        self.published_total += len(rows)
        self.last_error = None
        if self._metrics is not None:
            self._metrics.relay_published.inc(len(rows))
            self._metrics.relay_publish_seconds.observe(time.perf_counter() - started)
        log.debug("outbox rows published", extra={"count": len(rows), "last_id": rows[-1]["id"]})

    async def _watch_backlog(self) -> None:
        """Every instance, leading or not, on a connection of its own: the backlog's size and age stay
        visible whatever the publishing side is waiting for (Kafka down, a slow batch)."""
        assert self._metrics is not None
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self._database_url, server_settings=_SESSION)
                    backlog = await conn.fetchrow(_BACKLOG)
                    assert backlog is not None, "an aggregate gives one row"
                    oldest: datetime | None = backlog["oldest"]
                    age = (self._clock() - oldest).total_seconds() if oldest else 0.0
                    self._metrics.outbox_backlog.set(backlog["rows"])
                    self._metrics.outbox_oldest_age.set(max(0.0, age))
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.debug("outbox backlog not read", extra={"error": type(exc).__name__})
                await asyncio.sleep(self._observe_every)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _cleanup_now_and_then(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() >= self._next_cleanup:
            self._next_cleanup = time.monotonic() + self._cleanup_every
            await self.delete_published(conn)

    async def delete_published(self, conn: asyncpg.Connection) -> int:
        """Delete rows published longer ago than the retention period, oldest first, in chunks; return how many."""
        before = self._clock() - self._retention
        deleted = 0
        while True:
            status: str = await conn.execute(_CLEANUP, before, _CLEANUP_CHUNK)
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < _CLEANUP_CHUNK:
                break
        if deleted:
            log.info("published outbox rows deleted", extra={"count": deleted, "published_before": before.isoformat()})
        return deleted

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=512 * 1024,
                request_timeout_ms=10_000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        # A fresh producer after any failure: an idempotent producer can stay stuck after a broker
        # outage (aiokafka #1017), and a new one costs only a connection.
        producer, self._producer = self._producer, None
        self._batcher.forget()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a wake-up hint or the timeout; True when the relay is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
        return self._stopping.is_set()
