"""The outbox relay on the real PostgreSQL and Kafka: commit order without skipping late rows, one user's
events in order, two relays publishing each row once, takeover when the leader dies, retention, metrics."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from aiokafka.partitioner import DefaultPartitioner

from kutamo_dev import stack as dev_stack
from kutamo_identity.metrics import IdentityMetrics
from kutamo_identity.outbox.writer import OUTBOX
from kutamo_kit.outbox.relay import OutboxRelay
from tests.e2e.conftest import eventually
from tests.e2e.events.conftest import PARTITIONS, RelayFactory, per_key, read_topic, write_event

_RELAY_LOCK = 0x6B7574616D6F02


async def _published(conn: asyncpg.Connection, event_id: str) -> bool:
    return bool(await conn.fetchval("select count(*) from outbox_published where event_id = $1::uuid", event_id))


async def test_a_row_committed_late_is_published_not_skipped(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    early = await asyncpg.connect(relay_database, server_settings={"search_path": "identity"})
    late = await asyncpg.connect(relay_database, server_settings={"search_path": "identity"})
    try:
        early_tx, late_tx = early.transaction(), late.transaction()
        await early_tx.start()
        await early.fetchval("select pg_current_xact_id()")  # the early transaction's id is the lower one
        await late_tx.start()
        late_event = await write_event(late, topic, "user-late")  # the lower outbox id...
        early_event = await write_event(early, topic, "user-early")  # ...the higher one
        late_id = await late.fetchval("select id from outbox where event_id = $1::uuid", late_event)
        early_id = await early.fetchval("select id from outbox where event_id = $1::uuid", early_event)
        await early_tx.commit()
        await start_relay()

        await eventually(
            lambda: _true_or_none(_published(relay_db, early_event)), within=15, what="higher id published"
        )
        assert not await _published(relay_db, late_event)
        assert late_id < early_id, "the late row holds the lower id: an 'id > last seen' poller would skip it"

        await late_tx.commit()
        await eventually(lambda: _true_or_none(_published(relay_db, late_event)), within=15, what="late row published")
    finally:
        await early.close()
        await late.close()
    received = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db)
    assert sorted(r.event_id for r in received) == sorted([late_event, early_event])


async def _true_or_none(check: "asyncio.Future[bool] | object") -> bool | None:
    return True if await check else None  # type: ignore[misc]


async def test_one_users_events_stay_in_order_when_transaction_ids_were_handed_out_the_other_way(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    conns = [await asyncpg.connect(relay_database, server_settings={"search_path": "identity"}) for _ in range(4)]
    second, other, blocker, first = conns
    try:
        tx_second, tx_other, tx_blocker, tx_first = (c.transaction() for c in conns)
        await tx_second.start()
        await second.fetchval("select pg_current_xact_id()")  # lowest transaction id
        await tx_other.start()
        await other.fetchval("select pg_current_xact_id()")  # another user's, also below the blocker
        await tx_blocker.start()
        await blocker.fetchval("select pg_current_xact_id()")  # a slow, unrelated transaction in between
        await tx_first.start()
        first_event = await write_event(first, topic, "user-1")  # highest transaction id, lower outbox id
        await tx_first.commit()
        second_event = await write_event(second, topic, "user-1")  # lowest transaction id, higher outbox id
        await tx_second.commit()
        later_event = await write_event(other, topic, "user-2")  # settled, free to leave, the highest outbox id
        await tx_other.commit()
        await start_relay()

        # The relay reads rows in id order: once it published user-2's later row it had judged user-1's rows.
        await eventually(lambda: _true_or_none(_published(relay_db, later_event)), within=15, what="user-2 published")
        assert not await _published(relay_db, second_event), "published ahead of the same user's earlier event"

        await tx_blocker.commit()
    finally:
        for conn in conns:
            await conn.close()
    received = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db)
    assert per_key(received) == {"user-1": [first_event, second_event], "user-2": [later_event]}


async def test_interleaved_long_and_short_transactions_deliver_every_event_once_in_per_user_order(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    await start_relay()
    rng = random.Random(6)
    pool = await asyncpg.create_pool(
        relay_database, min_size=8, max_size=30, server_settings={"search_path": "identity"}
    )
    written: dict[str, list[str]] = {}

    async def user(key: str, sign_ins: int) -> None:
        # One user's transactions follow one another, as the identity row lock makes them in the service.
        for _ in range(sign_ins):
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchval("select pg_current_xact_id()")
                if rng.random() < 0.2:
                    await asyncio.sleep(rng.uniform(0.3, 1.2))  # a long transaction: its id is old at commit
                written.setdefault(key, []).append(await write_event(conn, topic, key))
                await asyncio.sleep(rng.uniform(0, 0.01))

    async def unrelated_long_transaction() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchval("select pg_current_xact_id()")
            await asyncio.sleep(rng.uniform(0.5, 2.0))

    try:
        await asyncio.gather(
            *(user(f"user-{n:02d}", 8) for n in range(25)), *(unrelated_long_transaction() for _ in range(5))
        )
    finally:
        await pool.close()
    total = sum(len(events) for events in written.values())

    received = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db, within=60)

    assert len(received) == total == 200, "every event exactly once"
    assert per_key(received) == written, "each user's events in the order their transactions committed"


async def test_two_relays_publish_each_row_once_and_the_survivor_takes_over_when_the_leader_dies(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    (one, one_task), (two, two_task) = await start_relay(), await start_relay()
    async with relay_db.transaction():
        for n in range(1500):
            await write_event(relay_db, topic, f"user-{n % 40}")

    async def drained() -> bool | None:
        return True if not await relay_db.fetchval("select count(*) from outbox") else None

    await eventually(drained, within=30, what="first 1,500 rows published")
    leader, leader_task, survivor = (one, one_task, two) if one.is_leader else (two, two_task, one)
    assert leader.is_leader
    assert not survivor.is_leader
    assert (leader.published_total, survivor.published_total) == (1500, 0)

    leader_task.cancel()  # the leader's process dies: its connection, and with it the lock, goes away
    async with relay_db.transaction():
        for n in range(500):
            await write_event(relay_db, topic, f"user-{n % 40}")
    await eventually(drained, within=30, what="the survivor publishing the rest")

    assert survivor.is_leader
    assert survivor.published_total == 500
    received = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db)
    assert len(received) == len({r.event_id for r in received}) == 2000


async def _published_at(conn: asyncpg.Connection, event_id: str, at: datetime) -> None:
    """Leave the row as the relay does once Kafka acknowledged it, as if that happened at `at`."""
    await conn.execute(
        """
        with gone as (
            delete from outbox where event_id = $1::uuid
            returning id, event_id, topic, key, value, headers, created_at
        )
        insert into outbox_published select *, $2 from gone
        """,
        event_id,
        at,
    )


async def test_published_rows_are_deleted_after_the_retention_period_and_waiting_rows_never(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    now = datetime.now(UTC)
    ids = {what: await write_event(relay_db, topic, "user-1") for what in ("old", "recent", "waiting")}
    await relay_db.execute("update outbox set created_at = $1", now - timedelta(days=3))
    await _published_at(relay_db, ids["old"], now - timedelta(hours=2))
    await _published_at(relay_db, ids["recent"], now - timedelta(minutes=10))
    relay = OutboxRelay(OUTBOX, relay_database, stack.kafka.bootstrap_servers, retention=timedelta(hours=1))

    assert await relay.delete_published(relay_db) == 1

    assert {str(r["event_id"]) for r in await relay_db.fetch("select event_id from outbox_published")} == {
        ids["recent"]
    }
    assert {str(r["event_id"]) for r in await relay_db.fetch("select event_id from outbox")} == {ids["waiting"]}

    # The leading relay does it by itself, now and then.
    again = await write_event(relay_db, topic, "user-2")
    await _published_at(relay_db, again, now - timedelta(hours=3))
    await start_relay(retention=timedelta(hours=1), cleanup_every=0.2)

    async def cleaned() -> bool | None:
        return None if await _published(relay_db, again) else True

    await eventually(cleaned, within=15, what="the running relay deleting an old published row")


async def test_a_published_event_is_kept_as_it_went_to_kafka_until_the_retention_period_ends(
    stack: dev_stack.Stack, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    event_id = await write_event(relay_db, topic, "user-1")
    before = datetime.now(UTC)
    await start_relay()

    await eventually(lambda: _true_or_none(_published(relay_db, event_id)), within=15, what="the event published")

    assert await relay_db.fetchval("select count(*) from outbox") == 0, "the outbox holds only waiting events"
    kept = await relay_db.fetchrow(
        "select key, value, headers, published_at from outbox_published where event_id = $1::uuid", event_id
    )
    (received,) = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db)
    assert (kept["key"].decode(), kept["value"]) == (received.key, received.value)
    assert msgspec.json.decode(kept["headers"], type=list[tuple[str, str]]) == [
        ("ce_specversion", "1.0"), ("ce_id", event_id), ("ce_source", "urn:test")
    ]  # fmt: skip
    assert kept["published_at"] >= before


async def test_backlog_size_and_age_are_exposed_then_drain_to_zero(
    stack: dev_stack.Stack, relay_database: str, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    metrics = IdentityMetrics()

    def sample(name: str) -> float | None:
        return metrics.registry.get_sample_value(name)

    holder = await asyncpg.connect(relay_database)  # another instance holds the leader lock
    await holder.fetchval("select pg_advisory_lock($1)", _RELAY_LOCK)
    try:
        for _ in range(5):
            await write_event(relay_db, topic, "user-1")
        await relay_db.execute("update outbox set created_at = now() - interval '90 seconds'")
        relay, _ = await start_relay(report=metrics.relay, observe_every=0.2)

        async def backlog_seen() -> bool | None:
            return True if sample("kutamo_identity_outbox_backlog_rows") == 5 else None

        await eventually(backlog_seen, within=15, what="backlog of 5 exposed by a relay that is not leading")
        assert (sample("kutamo_identity_outbox_oldest_age_seconds") or 0) >= 90
        assert not relay.is_leader
    finally:
        await holder.close()

    async def drained() -> bool | None:
        return True if sample("kutamo_identity_outbox_backlog_rows") == 0 else None

    await eventually(drained, within=15, what="backlog drained")
    assert sample("kutamo_identity_outbox_oldest_age_seconds") == 0
    assert sample("kutamo_identity_relay_published_total") == 5


async def test_each_users_events_land_on_the_partition_kafkas_default_partitioner_picks_for_their_key(
    stack: dev_stack.Stack, relay_db: asyncpg.Connection, topic: str, start_relay: RelayFactory
) -> None:
    keys = [f"user-{n}" for n in range(30)]
    async with relay_db.transaction():
        for _ in range(2):
            for key in keys:
                await write_event(relay_db, topic, key)
    await start_relay()

    received = await read_topic(stack.kafka.bootstrap_servers, topic, relay_db)

    partitions = list(range(PARTITIONS))
    placed = {(r.key, r.partition) for r in received}
    assert placed == {(key, DefaultPartitioner()(key.encode(), partitions, partitions)) for key in keys}
