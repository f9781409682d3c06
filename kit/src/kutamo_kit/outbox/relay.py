"""The outbox relay: publishes outbox rows to Kafka in commit order, each key's in order, then moves
them out. One implementation for both services; each describes its table with an `OutboxTable`.

One relay is active per database at a time (a PostgreSQL advisory lock held on the relay's own
connection), so several processes and hosts may each run one: the others wait as followers. When the
active one dies its connection closes (TCP keepalives bound a vanished host), the lock is freed and
another takes over within a few seconds.

Which rows: never "id above the last one seen" (a bigserial is handed out at insert, not at commit,
so a late-committing row would be skipped). Every round reads the head of the outbox in id order,
each row telling whether its writing transaction is older than the oldest one still running
(`xid < pg_snapshot_xmin`): that set only grows at its end, so rows leave in commit order and nothing
is skipped. A row is held back while an earlier row of the same key is not yet below the horizon
(order.py), so transaction ids handed out in the other order cannot reorder one key's events.

Delivery is at least once: rows leave the outbox after Kafka acknowledged them, so a crash in between
publishes them again (same `ce_id`; consumers de-duplicate on it). The producer is idempotent
(`acks=all`, one batch in flight per partition) so retries inside it neither duplicate nor reorder.

Batching: a wake-up (a NOTIFY at a writer's commit) is followed by a short linger (`linger` seconds)
before the head is read, so the rows of the sign-ins committed meanwhile leave in the same produce
request: at a few hundred sign-ins a second the broker handles one request per partition every few
milliseconds instead of one per sign-in. While Kafka takes a batch, the next one is read and built.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kutamo_kit.kafka import clients
from kutamo_kit.kafka.connectivity import KafkaConnectivity
from kutamo_kit.outages import DATABASE_ERRORS
from kutamo_kit.outbox.batches import Batch, Batcher
from kutamo_kit.outbox.metrics import RelayReport
from kutamo_kit.outbox.order import leaving
from kutamo_kit.outbox.table import OutboxTable, Pending

__all__ = ["OutboxRelay"]

log = logging.getLogger("kutamo.outbox.relay")

_CLEANUP_CHUNK = 10_000
_BACKLOG = "select count(*) as rows, min(created_at) as oldest from outbox"
_CLEANUP = """
delete from outbox_published where ctid = any(array(
    select ctid from outbox_published where published_at < $1 order by published_at limit $2
))
"""
# Published rows leave the queue in one statement, kept with the time they left.
_MOVE = """
with gone as (
    delete from outbox where id = any($1::bigint[]) returning id, event_id, topic, key, value, headers, created_at
)
insert into outbox_published (id, event_id, topic, key, value, headers, created_at, published_at)
select id, event_id, topic, key, value, headers, created_at, $2 from gone
"""
_DELETE = "delete from outbox where id = any($1::bigint[])"


# A read this full means sign-ins arrive faster than one per linger: stop listening until the outbox is empty.
_BUSY_ROWS = 4


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxRelay:
    def __init__(
        self,
        table: OutboxTable,
        database_url: str,
        bootstrap_servers: str,
        *,
        report: RelayReport | None = None,
        connectivity: KafkaConnectivity | None = None,
        clock: Callable[[], datetime] = _utc_now,
        retention: timedelta = timedelta(days=7),
        batch_size: int = 2000,
        linger: float = 0.01,
        poll_interval: float = 0.5,
        max_backoff: float = 5.0,
        observe_every: float = 5.0,
        cleanup_every: float = 300.0,
    ) -> None:
        self._table = table
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._report = report
        self._connectivity = connectivity
        self._clock = clock
        self._retention = retention
        self._batch = batch_size
        self._linger = linger
        self._poll = poll_interval
        self._max_backoff = max_backoff
        self._observe_every = observe_every
        self._cleanup_every = cleanup_every
        self._next_cleanup = 0.0
        self._wake = asyncio.Event()
        self._listening = False
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._batcher = Batcher()
        # The columns come from the service's code (its OutboxTable), never from input.
        self._head = f"""
            select id, {table.record_columns},
                   xid < (select pg_snapshot_xmin(pg_current_snapshot())) as settled
            from outbox where id not in (select unnest($2::bigint[])) order by id limit $1
        """  # noqa: S608
        self._session = {
            "search_path": table.schema,
            "application_name": table.application_name,
            # A dead relay host (no FIN, no RST) frees the lock within about 10 + 3 * 5 seconds.
            "tcp_keepalives_idle": "10",
            "tcp_keepalives_interval": "5",
            "tcp_keepalives_count": "3",
            # Every relay query walks an index in id order and stops at the batch size. Without fresh
            # statistics (a new or fast-growing outbox) the planner would rather bitmap-scan and sort the
            # whole backlog: 30x slower at 100,000 waiting rows.
            "enable_bitmapscan": "off",
        }
        self.published_total = 0
        self.is_leader = False
        self.last_error: str | None = None

    async def run(self) -> None:
        watcher = asyncio.create_task(self._watch_backlog(), name="outbox-backlog") if self._report else None
        try:
            await self._relay()
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _relay(self) -> None:
        backoff = self._poll
        while not self._stopping.is_set():
            try:
                await self._run_once_connected()
                backoff = self._poll
            except (*DATABASE_ERRORS, KafkaError) as exc:
                self._failed(exc, backoff)
                await self._close_producer()
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        await self._close_producer()

    def _failed(self, exc: BaseException, backoff: float) -> None:
        error = type(exc).__name__
        self.last_error = error
        if self._report is not None:
            self._report.failed(error)
        if isinstance(exc, KafkaError) and self._connectivity is not None:
            self._connectivity.trouble("relay", error)  # the tracker tells of the outage, once
            return
        log.warning("outbox relay paused", extra={"error": error, "retry_in_s": backoff})

    async def _run_once_connected(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._database_url, server_settings=self._session)
        try:
            while not await conn.fetchval("select pg_try_advisory_lock($1)", self._table.lock_id):
                self._lead(False)
                if await self._sleep(self._poll * 4):
                    return
            self._lead(True)
            await self._publish(conn)
        finally:
            self._lead(False)
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _lead(self, leader: bool) -> None:
        if leader != self.is_leader:
            self.is_leader = leader
            if leader:
                log.info("outbox relay leading", extra={"schema": self._table.schema})
            if self._report is not None:
                self._report.leading(leader)

    async def _publish(self, conn: asyncpg.Connection) -> None:
        """Publish until stopped, one batch in flight. While Kafka takes a batch, the next one is read
        (on the leader's connection) and built into Kafka record batches, and the previous one is moved
        out of the outbox (on a second connection), so the database, Python and Kafka work overlap. A
        batch is queued only after the previous one was acknowledged, so a failure never lets a later
        row overtake an earlier one."""
        marker: asyncpg.Connection = await asyncpg.connect(self._database_url, server_settings=self._session)
        marking: asyncio.Task[None] | None = None
        marking_ids: list[int] = []
        try:
            producer = await self._ensure_producer()
            if self._connectivity is not None:
                self._connectivity.reachable_again("relay")  # it bootstrapped: an idle outbox must not hide that
            await self._listen(conn, True)
            rows = await self._ready(conn, [])
            read_at = time.monotonic()
            sending = await self._queue(producer, await self._batcher.build(producer, rows))
            started = time.perf_counter()
            while True:
                # Not a backlog: the rows committing meanwhile share the next read and produce request.
                stopping = self._stopping.is_set() or (
                    len(rows) < self._batch and await self._wait_until(read_at + self._linger)
                )
                following = [] if stopping else await self._ready(conn, [r.id for r in rows] + marking_ids)
                read_at = time.monotonic()
                if len(following) >= _BUSY_ROWS and self._listening:
                    await self._listen(conn, False)  # reading every linger anyway: a wake-up per sign-in is waste
                elif not following and not self._listening and not stopping:
                    await self._listen(conn, True)  # about to sleep: hear the next commit (and read once more,
                    following = await self._ready(conn, [r.id for r in rows] + marking_ids)  # for those meanwhile)
                prepared = await self._batcher.build(producer, following)
                await asyncio.gather(*sending)
                if marking is not None:
                    await marking
                marking, marking_ids = None, []
                sending = await self._queue(producer, prepared)
                if rows:
                    marking = asyncio.create_task(self._mark(marker, rows, started))
                    marking_ids = [r.id for r in rows]
                started = time.perf_counter()
                if stopping:  # what was sent is acknowledged and being marked (awaited below): nothing doubles
                    return
                await self._cleanup_now_and_then(conn)
                if not following:
                    if marking is not None:
                        await marking
                    marking, marking_ids = None, []
                    if await self._sleep(self._poll) or await self._linger_a_little():
                        return
                rows = following
        finally:
            if marking is not None:
                await asyncio.gather(marking, return_exceptions=True)
            with contextlib.suppress(Exception):
                await marker.close(timeout=2)

    async def _listen(self, conn: asyncpg.Connection, listening: bool) -> None:
        """LISTEN while the outbox may go quiet; not while it is busy. Every sign-in's commit NOTIFYs: at
        hundreds a second, the wake-ups cost the relay more than its reads (measured: docs/benchmarks.md)."""
        if listening:
            await conn.add_listener(self._table.channel, self._woken)
        else:
            await conn.remove_listener(self._table.channel, self._woken)
        self._listening = listening

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def _wait_until(self, moment: float) -> bool:
        """Wait until time.monotonic() reaches `moment`; True when stopping."""
        if (delay := moment - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
        return self._stopping.is_set()

    async def _linger_a_little(self) -> bool:
        """After a wake-up, let the sign-ins committing now join the next read; True when stopping."""
        if self._linger > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._linger)
        return self._stopping.is_set()

    async def _ready(self, conn: asyncpg.Connection, in_flight: list[int]) -> list[Pending]:
        decode = self._table.decode
        return leaving([decode(row, row["settled"]) for row in await conn.fetch(self._head, self._batch, in_flight)])

    async def _queue(self, producer: AIOKafkaProducer, batches: list[Batch]) -> list["asyncio.Future[Any]"]:
        """Hand the batches to the producer; return the futures of their acknowledgements. A closed
        batch leaves at once: an open one would wait out the producer's linger for records that
        will never come."""
        for batch in batches:
            batch.builder.close()
        return [await producer.send_batch(b.builder, b.topic, partition=b.partition) for b in batches]

    async def _mark(self, conn: asyncpg.Connection, rows: list[Pending], started: float) -> None:
        ids = [r.id for r in rows]
        if self._table.keeps_published:
            await conn.execute(_MOVE, ids, self._clock())
        else:
            await conn.execute(_DELETE, ids)
        self.published_total += len(rows)
        self.last_error = None
        if self._connectivity is not None:
            self._connectivity.reachable_again("relay")
        if self._report is not None:
            self._report.published(len(rows), time.perf_counter() - started)
        log.debug("outbox rows published", extra={"count": len(rows), "last_id": ids[-1]})

    async def _watch_backlog(self) -> None:
        """Every instance, leading or not, on a connection of its own: the backlog's size and age stay
        visible whatever the publishing side is waiting for (Kafka down, a slow batch)."""
        assert self._report is not None
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self._database_url, server_settings=self._session)
                    backlog = await conn.fetchrow(_BACKLOG)
                    assert backlog is not None, "an aggregate gives one row"
                    oldest: datetime | None = backlog["oldest"]
                    age = (self._clock() - oldest).total_seconds() if oldest else 0.0
                    self._report.backlog(backlog["rows"], age)
                except DATABASE_ERRORS as exc:
                    log.debug("outbox backlog not read", extra={"error": type(exc).__name__})
                await asyncio.sleep(self._observe_every)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def _cleanup_now_and_then(self, conn: asyncpg.Connection) -> None:
        if self._table.keeps_published and time.monotonic() >= self._next_cleanup:
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
                **clients.options(),
            )
            clients.backoff_reconnects(producer)
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
