"""The kit's outbox relay on the worker's outbox, on the real PostgreSQL and Kafka: every announcement
once, each user's in order, on the partition Kafka's default partitioner gives the user's key."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry

from kutamo_contracts.envelope import Envelope
from kutamo_dev import stack as dev_stack
from kutamo_kit.outbox.metrics import RelayMetrics
from kutamo_kit.outbox.relay import OutboxRelay
from kutamo_provisioning import db as worker_db
from kutamo_provisioning import outbox
from tests.support.databases import throwaway_database

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(stack: dev_stack.Stack) -> AsyncIterator[str]:
    async with throwaway_database(stack.postgres.url, "kutamo_relay") as url:
        yield url


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    created = await worker_db.create_pool(database)
    async with created.acquire() as conn:
        await worker_db.migrate(conn)
    yield created
    await created.close()


async def test_the_relay_publishes_each_announcement_once_in_order_per_user(
    stack: dev_stack.Stack, database: str, pool: asyncpg.Pool
) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    topic = f"test.user-provisioned.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name=topic, num_partitions=4, replication_factor=1)])
    await admin.close()
    users = [str(uuid.uuid4()) for _ in range(7)]
    envelopes = [
        Envelope(topic=topic, key=u.encode(), value=f"{u}:{n}".encode(), headers=[("ce_id", f"{u}:{n}".encode())])
        for n in range(40)
        for u in users
    ]
    for start in range(0, len(envelopes), 70):  # several transactions, as batches write them
        async with pool.acquire() as conn, conn.transaction():
            await outbox.write(conn, envelopes[start : start + 70], NOW)
    relay = OutboxRelay(outbox.OUTBOX, database, bootstrap, report=RelayMetrics("test", CollectorRegistry()))
    task = asyncio.create_task(relay.run())
    try:
        received = await _read(bootstrap, topic, 4, pool)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 20)

    assert sorted(r[1] for r in received) == sorted(e.value for e in envelopes), "each exactly once"
    for user in users:
        mine = [(partition, value) for partition, value, key in received if key == user.encode()]
        assert [v for _, v in mine] == [f"{user}:{n}".encode() for n in range(40)], "in order"
        assert {p for p, _ in mine} == {DefaultPartitioner()(user.encode(), [0, 1, 2, 3], [0, 1, 2, 3])}
    assert relay.is_leader is False
    assert await pool.fetchval("select count(*) from outbox") == 0


async def _read(bootstrap: str, topic: str, partitions: int, pool: asyncpg.Pool) -> list[tuple[int, bytes, bytes]]:
    """What the relay published, read until an end marker written now arrived on every partition: the relay
    publishes in commit order, so nothing published before the markers (a duplicate included) can come later."""
    everywhere = list(range(partitions))
    keys: dict[int, bytes] = {}
    for n in range(1000):
        keys.setdefault(DefaultPartitioner()(f"end-{n}".encode(), everywhere, everywhere), f"end-{n}".encode())
    markers = {f"end-marker-{p}".encode() for p in everywhere}
    ends = [Envelope(topic=topic, key=keys[p], value=f"end-marker-{p}".encode(), headers=[]) for p in everywhere]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.write(conn, ends, NOW)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in everywhere])
        received: list[tuple[int, bytes, bytes]] = []
        seen: set[bytes] = set()
        deadline = asyncio.get_running_loop().time() + 30
        while seen != markers:
            assert asyncio.get_running_loop().time() < deadline, f"end markers missing after 30 s: {len(received)} read"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    if r.value in markers:
                        seen.add(r.value)
                    else:
                        received.append((r.partition, r.value, r.key))
        return received
    finally:
        await consumer.stop()


async def test_announcements_waiting_in_the_earlier_format_are_still_published(
    stack: dev_stack.Stack, database: str, pool: asyncpg.Pool
) -> None:
    """Rows written before migration 0004 (one JSON envelope, bytes as base64) survive the upgrade."""
    bootstrap = stack.kafka.bootstrap_servers
    topic = f"test.user-provisioned.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    user = str(uuid.uuid4())
    old = Envelope(topic=topic, key=user.encode(), value=b'{"n": 1}', headers=[("ce_id", b"old-1")])
    new = Envelope(topic=topic, key=user.encode(), value=b'{"n": 2}', headers=[("ce_id", b"new-2")])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "insert into outbox (topic, envelope, created_at) values ($1, $2::jsonb, $3)",
            topic, msgspec.json.encode(old).decode(), NOW,
        )  # fmt: skip
        await outbox.write(conn, [new], NOW)
    relay = OutboxRelay(outbox.OUTBOX, database, bootstrap, report=RelayMetrics("test", CollectorRegistry()))
    task = asyncio.create_task(relay.run())
    try:
        received = await _read(bootstrap, topic, 1, pool)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 20)

    assert [(value, key) for _, value, key in received] == [(b'{"n": 1}', user.encode()), (b'{"n": 2}', user.encode())]
    assert await pool.fetchval("select count(*) from outbox") == 0


async def test_a_commit_after_a_busy_spell_wakes_the_relay_at_once(
    stack: dev_stack.Stack, database: str, pool: asyncpg.Pool
) -> None:
    """While rows pour in, the relay reads every linger and stops listening; once the outbox is empty it
    listens again, so the next commit's NOTIFY wakes it (the fallback poll here is a minute: too late)."""
    bootstrap = stack.kafka.bootstrap_servers
    topic = f"test.user-provisioned.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
    await admin.close()

    def envelope(n: int) -> Envelope:
        return Envelope(topic=topic, key=b"user", value=str(n).encode(), headers=[])

    relay = OutboxRelay(
        outbox.OUTBOX, database, bootstrap, report=RelayMetrics("test", CollectorRegistry()), poll_interval=60
    )
    task = asyncio.create_task(relay.run())
    loop = asyncio.get_running_loop()

    async def published_within(seconds: float) -> float:
        started = loop.time()
        while await pool.fetchval("select count(*) from outbox"):
            assert loop.time() - started < seconds, "the relay did not publish: it missed the commit's NOTIFY"
            await asyncio.sleep(0.01)
        return loop.time() - started

    try:
        for _ in range(1000):
            if relay.is_leader:
                break
            await asyncio.sleep(0.01)
        for spell in range(2):
            for n in range(40):  # a busy spell: 10 rows every 5 ms, read 20-odd at a time
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.write(conn, [envelope(spell * 1000 + n * 10 + i) for i in range(10)], NOW)
                await asyncio.sleep(0.005)
            await published_within(10)
            await asyncio.sleep(0.3)  # quiet: the relay sleeps, listening
            async with pool.acquire() as conn, conn.transaction():
                await outbox.write(conn, [envelope(spell * 1000 + 999)], NOW)
            assert await published_within(2) < 2
    finally:
        relay.stop()
        await asyncio.wait_for(task, 20)
