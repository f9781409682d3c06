"""Upgrading to the outbox that holds only waiting rows (migration 0007): what waited still leaves, in
order and as it was written; what was already published is kept until its retention period ends."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources

import asyncpg

from kutamo_dev import stack as dev_stack
from kutamo_identity import db as identity_db
from kutamo_identity.outbox.writer import OUTBOX
from kutamo_kit.outbox.relay import OutboxRelay
from tests.e2e.conftest import eventually
from tests.e2e.events.conftest import envelope, per_key, read_topic
from tests.support.databases import throwaway_database

_BEFORE = "0007"


async def _migrate_up_to(conn: asyncpg.Connection, before: str) -> None:
    await conn.execute("create schema identity")
    await conn.execute("create table identity.schema_migrations (name text primary key, applied_at timestamptz)")
    files = sorted(resources.files("kutamo_identity.migrations").iterdir(), key=lambda f: f.name)
    for file in files:
        if file.name.endswith(".sql") and file.name < before:
            await conn.execute(file.read_text())
            await conn.execute("insert into identity.schema_migrations values ($1, now())", file.name)


async def _old_row(conn: asyncpg.Connection, topic: str, key: str, published_at: datetime | None) -> str:
    """An outbox row as the release before 0007 wrote it: headers as jsonb, published_at in place."""
    event_id = str(uuid.uuid4())
    record = envelope(topic, key, event_id)
    await conn.execute(
        "insert into identity.outbox (event_id, topic, key, value, headers, created_at, published_at)"
        " values ($1, $2, $3, $4, $5, $6, $7)",
        event_id,
        record.topic,
        record.key,
        record.value,
        json.dumps([[name, value.decode()] for name, value in record.headers]),
        datetime.now(UTC),
        published_at,
    )
    return event_id


async def test_rows_waiting_before_the_upgrade_are_published_after_it_and_published_ones_are_kept(
    stack: dev_stack.Stack, topic: str
) -> None:
    published_at = datetime.now(UTC) - timedelta(hours=1)
    async with throwaway_database(stack.postgres.url, "kutamo_upgrade") as url:
        conn = await asyncpg.connect(url, server_settings={"search_path": "identity"})
        try:
            await _migrate_up_to(conn, _BEFORE)
            done = await _old_row(conn, topic, "user-1", published_at)
            waiting = [await _old_row(conn, topic, "user-1", None) for _ in range(3)]

            applied = await identity_db.migrate(conn)
            assert applied[0] == "0007_outbox_queue_and_published_log.sql"  # later migrations may follow

            kept = await conn.fetchrow("select event_id::text, published_at from identity.outbox_published")
            assert (kept["event_id"], kept["published_at"]) == (done, published_at)
            relay = OutboxRelay(OUTBOX, url, stack.kafka.bootstrap_servers, poll_interval=0.2)
            running = asyncio.create_task(relay.run())

            async def drained() -> bool | None:
                return None if await conn.fetchval("select count(*) from identity.outbox") else True

            try:
                await eventually(drained, within=30, what="the rows that waited before the upgrade published")
                published = relay.published_total
                received = await read_topic(stack.kafka.bootstrap_servers, topic, conn)
            finally:
                relay.stop()
                await running
        finally:
            await conn.close()
        assert per_key(received) == {"user-1": waiting}
        assert published == 3
