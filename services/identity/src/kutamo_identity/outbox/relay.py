"""The outbox relay: publishes outbox rows to Kafka in order and marks them sent.

One relay is active at a time (a PostgreSQL advisory lock held on the relay's own connection), so
rows leave in one order and two instances never publish the same row in normal operation; when
the active instance dies its connection closes, the lock is freed and another takes over.
Rows are read only below the oldest running transaction (`pg_snapshot_xmin`), so a row whose
transaction commits late is never skipped. When Kafka is down, sign-ins go on and rows wait here.
"""

import asyncio
import contextlib
import json
import logging
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from kutamo_identity.outbox.writer import CHANNEL
from kutamo_identity.seams import Clock

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x6B7574616D6F02
_BATCH = 500


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        bootstrap_servers: str,
        clock: Clock,
        *,
        poll_interval: float = 0.5,
        max_backoff: float = 5.0,
    ) -> None:
        self._database_url = database_url
        self._bootstrap = bootstrap_servers
        self._clock = clock
        self._poll = poll_interval
        self._max_backoff = max_backoff
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
                await self._run_as_leader()
                backoff = self._poll
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as exc:
                self.last_error = type(exc).__name__
                log.warning("outbox relay paused", extra={"error": type(exc).__name__, "retry_in_s": backoff})
                await self._close_producer()
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        await self._close_producer()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _run_as_leader(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._database_url,
            server_settings={"search_path": "identity", "application_name": "kutamo-outbox-relay"},
        )
        try:
            while not await conn.fetchval("select pg_try_advisory_lock($1)", _RELAY_LOCK):
                self.is_leader = False
                if await self._sleep(self._poll * 4):
                    return
            self.is_leader = True
            await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
            while not self._stopping.is_set():
                sent = await self._publish_batch(conn)
                if sent < _BATCH:
                    await self._sleep(self._poll)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            """
            select id, topic, key, value, headers from outbox
            where published_at is null and xid < pg_snapshot_xmin(pg_current_snapshot())
            order by id limit $1
            """,
            _BATCH,
        )
        if not rows:
            return 0
        producer = await self._ensure_producer()
        futures = [
            await producer.send(
                row["topic"],
                value=row["value"],
                key=row["key"],
                headers=[(name, value.encode()) for name, value in json.loads(row["headers"])],
            )
            for row in rows
        ]
        await asyncio.gather(*futures)
        await conn.execute(
            "update outbox set published_at = $1 where id = any($2::bigint[])",
            self._now(),
            [r["id"] for r in rows],
        )
        self.published_total += len(rows)
        self.last_error = None
        log.info("outbox rows published", extra={"count": len(rows), "last_id": rows[-1]["id"]})
        return len(rows)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
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

    def _now(self) -> datetime:
        return self._clock()
