"""The outbox relay: publishes outbox rows to Kafka in commit order, per user in order, and marks them sent.

One relay is active at a time (a PostgreSQL advisory lock held on the relay's own connection), so
two identity instances never publish the same row in normal operation; when the active instance
dies its connection closes (TCP keepalives bound a vanished host), the lock is freed and another
instance takes over within a few seconds.

Which rows: never "id above the last one seen" (a bigserial is handed out at insert, not at commit,
so a late-committing row would be skipped). Every round reads the unpublished rows whose writing
transaction is older than the oldest one still running (`xid < pg_snapshot_xmin`): that set only
grows at its end, so rows leave in commit order and nothing is skipped. A user's sign-ins are
serialised by the lock on their identity row, so their rows are inserted in order; a row is held
back while an earlier row of the same key is still below the horizon, so transaction ids handed out
in the other order cannot reorder one user's events.

Delivery is at least once: rows are marked after Kafka acknowledged them, so a crash in between
publishes them again (same `ce_id`; consumers de-duplicate on it). The producer is idempotent
(`acks=all`, one batch in flight per partition) so retries inside it neither duplicate nor reorder.
Published rows are deleted once older than the retention period.
"""

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

import asyncpg
import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.writer import CHANNEL
from kutamo_identity.seams import Clock

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x6B7574616D6F02
_CLEANUP_CHUNK = 10_000

# Rows below the horizon, in id order, except those with an earlier unpublished row of the same key
# that is not below it yet.
_READY = """
with horizon as (select pg_snapshot_xmin(pg_current_snapshot()) as xmin)
select o.id, o.topic, o.key, o.value, o.headers::text as headers
from outbox o, horizon h
where o.published_at is null and o.xid < h.xmin
  and not exists (
    select 1 from outbox p
    where p.published_at is null and p.key = o.key and p.id < o.id and p.xid >= h.xmin
  )
order by o.id
limit $1
"""
_BACKLOG = "select count(*) as rows, min(created_at) as oldest from outbox where published_at is null"
_CLEANUP = """
delete from outbox where id in (
    select id from outbox where published_at is not null and published_at < $1 limit $2
)
"""
# A dead relay host (no FIN, no RST) frees the lock within about 10 + 3 * 5 seconds.
_KEEPALIVES = {"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "3"}

_headers = msgspec.json.Decoder(list[tuple[str, str]])


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
        self._next_observe = 0.0
        self._next_cleanup = 0.0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.published_total = 0
        self.is_leader = False
        self.last_error: str | None = None

    async def run(self) -> None:
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
            server_settings={"search_path": "identity", "application_name": "kutamo-outbox-relay", **_KEEPALIVES},
        )
        try:
            while not await conn.fetchval("select pg_try_advisory_lock($1)", _RELAY_LOCK):
                self.is_leader = False
                await self._chores(conn, leader=False)
                if await self._sleep(self._poll * 4):
                    return
            self.is_leader = True
            log.info("outbox relay leading")
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            while not self._stopping.is_set():
                await self._chores(conn, leader=True)  # first: the backlog shows while Kafka is down too
                sent = await self._publish_batch(conn)
                if sent < self._batch:
                    await self._sleep(self._poll)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(_READY, self._batch)
        if not rows:
            return 0
        started = time.perf_counter()
        producer = await self._ensure_producer()
        futures = [
            await producer.send(
                row["topic"],
                value=row["value"],
                key=row["key"],
                headers=[(name, value.encode()) for name, value in _headers.decode(row["headers"])],
            )
            for row in rows
        ]
        await asyncio.gather(*futures)
        await conn.execute(
            "update outbox set published_at = $1 where id = any($2::bigint[])",
            self._clock(),
            [r["id"] for r in rows],
        )
        self.published_total += len(rows)
        self.last_error = None
        if self._metrics is not None:
            self._metrics.relay_published.inc(len(rows))
            self._metrics.relay_publish_seconds.observe(time.perf_counter() - started)
        log.debug("outbox rows published", extra={"count": len(rows), "last_id": rows[-1]["id"]})
        return len(rows)

    async def _chores(self, conn: asyncpg.Connection, *, leader: bool) -> None:
        """Now and then: backlog metrics (every instance), cleanup of old published rows (the leader)."""
        now = time.monotonic()
        if self._metrics is not None and now >= self._next_observe:
            self._next_observe = now + self._observe_every
            backlog = await conn.fetchrow(_BACKLOG)
            self._metrics.outbox_backlog.set(backlog["rows"])
            oldest: datetime | None = backlog["oldest"]
            self._metrics.outbox_oldest_age.set(max(0.0, (self._clock() - oldest).total_seconds()) if oldest else 0)
        if leader and now >= self._next_cleanup:
            self._next_cleanup = now + self._cleanup_every
            await self.delete_published(conn)

    async def delete_published(self, conn: asyncpg.Connection) -> int:
        """Delete rows published longer ago than the retention period, in chunks; return how many."""
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
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _sleep(self, seconds: float) -> bool:
        """Wait for a wake-up hint or the timeout; True when the relay is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
        return self._stopping.is_set()
