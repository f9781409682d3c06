"""Fixtures for the event tests: a database of the test's own with the identity schema, a topic of its own,
relays run in the test process, and a reader of what reached Kafka."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from kutamo_contracts.envelope import Envelope
from kutamo_dev import stack as dev_stack
from kutamo_identity import db as identity_db
from kutamo_identity.outbox import writer
from kutamo_identity.outbox.writer import OUTBOX
from kutamo_kit.outbox.relay import OutboxRelay
from tests.support.databases import throwaway_database

PARTITIONS = 3


class Received(msgspec.Struct, frozen=True):
    key: str
    event_id: str
    value: bytes
    partition: int
    offset: int


@pytest.fixture
async def relay_database(stack: dev_stack.Stack) -> AsyncIterator[str]:
    """A fresh database with the identity migrations, so the relays here compete with nobody else's."""
    async with throwaway_database(stack.postgres.url, "kutamo_relay") as url:
        await identity_db.migrate_database(url)
        yield url


@pytest.fixture
async def relay_db(relay_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(relay_database, server_settings={"search_path": "identity"})
    yield conn
    await conn.close()


@pytest.fixture
async def topic(stack: dev_stack.Stack) -> str:
    name = f"test.relay.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    return name


def envelope(topic: str, key: str, event_id: str, value: bytes | None = None) -> Envelope:
    return Envelope(
        topic=topic,
        key=key.encode(),
        value=value or msgspec.json.encode({"event_id": event_id, "user_id": key}),
        headers=[("ce_specversion", b"1.0"), ("ce_id", event_id.encode()), ("ce_source", b"urn:test")],
    )


async def write_event(conn: asyncpg.Connection, topic: str, key: str) -> str:
    """One outbox row, inside whatever transaction `conn` is in; returns its event id."""
    event_id = str(uuid.uuid4())
    await writer.add(conn, event_id, envelope(topic, key, event_id), datetime.now(UTC))
    return event_id


RelayFactory = Callable[..., Awaitable[tuple[OutboxRelay, "asyncio.Task[None]"]]]


@pytest.fixture
async def start_relay(stack: dev_stack.Stack, relay_database: str) -> AsyncIterator[RelayFactory]:
    running: list[tuple[OutboxRelay, asyncio.Task[None]]] = []

    async def start(**options: object) -> tuple[OutboxRelay, asyncio.Task[None]]:
        relay = OutboxRelay(OUTBOX, relay_database, stack.kafka.bootstrap_servers, poll_interval=0.2, **options)  # type: ignore[arg-type]
        task = asyncio.create_task(relay.run())
        running.append((relay, task))
        return relay, task

    yield start
    for relay, _ in running:
        relay.stop()
    await asyncio.wait_for(asyncio.gather(*(task for _, task in running), return_exceptions=True), 20)


def _marker_keys() -> list[str]:
    """One key per partition, so a marker lands behind whatever else each partition holds."""
    partitions = list(range(PARTITIONS))
    by_partition: dict[int, str] = {}
    n = 0
    while len(by_partition) < PARTITIONS:
        key = f"end-marker-{n}"
        by_partition.setdefault(DefaultPartitioner()(key.encode(), partitions, partitions), key)
        n += 1
    return [by_partition[p] for p in partitions]


async def read_topic(bootstrap: str, topic: str, outbox: asyncpg.Connection, within: float = 30.0) -> list[Received]:
    """Everything the relay published to the topic, read until an end marker on every partition.

    The markers are outbox rows written now, after everything the test committed: the relay publishes
    in commit order and one batch at a time, so once a partition's marker is on Kafka every earlier row
    of that partition is there too, and a row published twice is there twice. Nothing the relay sent
    before the markers can still arrive: absence is read, not waited for. Markers are not returned."""
    markers = {await write_event(outbox, topic, key) for key in _marker_keys()}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    received: list[Received] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        seen: set[str] = set()
        while seen != markers:
            if loop.time() > deadline:
                raise AssertionError(f"the end markers did not arrive within {within}s ({len(received)} records read)")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    event_id = dict(r.headers)["ce_id"].decode()
                    if event_id in markers:
                        seen.add(event_id)
                    else:
                        received.append(Received(r.key.decode(), event_id, r.value, r.partition, r.offset))
        return received
    finally:
        await consumer.stop()


def per_key(received: list[Received]) -> dict[str, list[str]]:
    """Event ids of each key, in the order Kafka holds them (one key lives on one partition)."""
    keys: dict[str, list[str]] = {}
    for r in sorted(received, key=lambda r: (r.partition, r.offset)):
        keys.setdefault(r.key, []).append(r.event_id)
    return keys
